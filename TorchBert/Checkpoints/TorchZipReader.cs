using System.Text;
using Microsoft.Win32.SafeHandles;

namespace TorchBert.Checkpoints;

/// <summary>
/// Reads a torch ≥ 1.6 checkpoint (<c>torch.save</c>'s zip format, e.g. <c>pytorch_model.bin</c>). Layout, under one
/// top folder (<c>archive/</c> or the file's stem): <c>data.pkl</c> (the state dict, read by the restricted
/// unpickler), <c>data/&lt;key&gt;</c> (raw little-endian storage bytes, stored uncompressed), <c>version</c>,
/// optionally <c>byteorder</c>. Tensors are read in place from the storage records; tied tensors share a record.
/// </summary>
public sealed class TorchZipReader : ICheckpointReader
{
    private readonly SafeFileHandle _handle;

    private TorchZipReader(string path, SafeFileHandle handle, IReadOnlyList<CheckpointTensor> tensors)
    {
        Path = path;
        _handle = handle;
        Tensors = tensors;
    }

    /// <inheritdoc/>
    public string Path { get; }
    /// <inheritdoc/>
    public string Format => "torch zip";
    /// <inheritdoc/>
    public IReadOnlyList<CheckpointTensor> Tensors { get; }

    /// <summary>Opens <paramref name="path"/>, validates the archive and its pickle; throws <see cref="CheckpointException"/>.</summary>
    public static TorchZipReader Open(string path)
    {
        var handle = FileRange.OpenRead(path);
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            var entries = new Dictionary<string, ZipEntry>(StringComparer.Ordinal);
            foreach (var e in ZipDirectory.Read(handle, fileLength, path))
                if (!entries.TryAdd(e.Name, e)) throw new CheckpointException($"{path}: zip entry '{e.Name}' appears twice");
            string prefix = FindPrefix(entries.Keys, path);
            CheckByteOrder(handle, entries, prefix, path);
            var sources = new Dictionary<string, StorageSource>(StringComparer.Ordinal);
            var pkl = entries[prefix + "data.pkl"];
            object? root;
            using (var stream = OpenEntry(handle, pkl, path))
            {
                var input = new PickleInput(stream, pkl.UncompressedSize, $"{path}: {pkl.Name}");
                root = RestrictedUnpickler.Load(input, pid => Storage(pid, input, handle, entries, prefix, sources, path));
            }
            var tensors = TorchStateDict.Entries(root, path)
                .Select(e => (CheckpointTensor)TorchStorageTensor.Create(e.Name, e.Record, sources[e.Record.Storage.Key], fileLength, path))
                .ToList();
            return new TorchZipReader(path, handle, tensors);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _handle.Dispose();

    /// <summary>The folder holding <c>data.pkl</c>: exactly one top-level folder may have one.</summary>
    private static string FindPrefix(IEnumerable<string> names, string path)
    {
        var folders = names.Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/') == n.Length - 9).ToList();
        return folders.Count switch
        {
            1 => folders[0][..^8],
            0 => throw new CheckpointException($"{path}: not a torch checkpoint: the zip has no '<folder>/data.pkl' record"),
            _ => throw new CheckpointException($"{path}: the zip has several data.pkl records ({string.Join(", ", folders)})"),
        };
    }

    private static void CheckByteOrder(SafeFileHandle handle, Dictionary<string, ZipEntry> entries, string prefix, string path)
    {
        if (!entries.TryGetValue(prefix + "byteorder", out var e)) return;
        if (e.UncompressedSize > 16) throw new CheckpointException($"{path}: the byteorder record is {e.UncompressedSize} bytes");
        using var s = OpenEntry(handle, e, path);
        var buf = new byte[e.UncompressedSize];
        int n = s.ReadAtLeast(buf, buf.Length, throwOnEndOfStream: false);
        string order = Encoding.ASCII.GetString(buf, 0, n).Trim();
        if (order != "little")
            throw new CheckpointException($"{path}: byteorder is '{order}'; only little-endian checkpoints are supported");
    }

    /// <summary>persistent_load: <c>('storage', torch.XStorage, key, location, numel)</c> names record <c>data/key</c>.</summary>
    private static TorchStorageRef Storage(object? pid, PickleInput input, SafeFileHandle handle, Dictionary<string, ZipEntry> entries,
        string prefix, Dictionary<string, StorageSource> sources, string path)
    {
        var storage = TorchStorageRef.Parse(pid, input, out _);
        string record = $"{prefix}data/{storage.Key}";
        if (!entries.TryGetValue(record, out var e))
            throw new CheckpointException($"{path}: storage '{storage.Key}' has no record '{record}' in the zip");
        long need;
        try { need = checked(storage.Numel * CheckpointDTypes.ElementSize(storage.DType)); }
        catch (OverflowException) { throw input.Fail($"storage '{storage.Key}' numel {storage.Numel} overflows"); }
        if (need > e.UncompressedSize)
            throw new CheckpointException($"{path}: record '{record}' has {e.UncompressedSize} bytes, storage '{storage.Key}' needs {need}");
        if (!sources.ContainsKey(storage.Key))
            sources[storage.Key] = Source(handle, e, $"{path}: {record}");
        return storage;
    }

    private static StorageSource Source(SafeFileHandle handle, ZipEntry e, string describe) => e.Method switch
    {
        ZipEntry.Stored when e.CompressedSize == e.UncompressedSize => new FileStorageSource(handle, e.DataOffset, e.UncompressedSize, describe),
        ZipEntry.Deflated => new DeflatedStorageSource(handle, e.DataOffset, e.CompressedSize, e.UncompressedSize, describe),
        _ => throw new CheckpointException($"{describe}: unsupported zip method {e.Method} (or sizes disagree)"),
    };

    private static Stream OpenEntry(SafeFileHandle handle, ZipEntry e, string path) => e.Method switch
    {
        ZipEntry.Stored => new FileWindowStream(handle, e.DataOffset, Math.Min(e.CompressedSize, e.UncompressedSize)),
        ZipEntry.Deflated => DeflatedStorageSource.Open(handle, e.DataOffset, e.CompressedSize),
        _ => throw new CheckpointException($"{path}: zip entry '{e.Name}' uses unsupported compression method {e.Method}"),
    };
}
