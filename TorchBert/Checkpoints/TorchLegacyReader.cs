using System.Buffers.Binary;
using System.Numerics;
using Microsoft.Win32.SafeHandles;

namespace TorchBert.Checkpoints;

/// <summary>
/// Reads a pre-1.6 torch checkpoint (<c>torch.save(..., _use_new_zipfile_serialization=False)</c>), a plain stream:
/// <code>
/// pickle(magic 0x1950a86a20f9469cfc6c) pickle(1001) pickle(sys_info) pickle(state dict) pickle([storage keys])
/// then per key, in list order: [i64 LE element count][count * element size raw bytes]
/// </code>
/// Persistent ids are <c>('storage', torch.XStorage, root_key, location, numel, view_metadata)</c>. Storage offsets
/// are found by walking the counts (seeking, not reading); tensors are read in place.
/// </summary>
public sealed class TorchLegacyReader : ICheckpointReader
{
    private static readonly BigInteger Magic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);
    private const long ProtocolVersion = 1001;
    private readonly SafeFileHandle _handle;

    private TorchLegacyReader(string path, SafeFileHandle handle, IReadOnlyList<CheckpointTensor> tensors)
    {
        Path = path;
        _handle = handle;
        Tensors = tensors;
    }

    /// <inheritdoc/>
    public string Path { get; }
    /// <inheritdoc/>
    public string Format => "torch legacy";
    /// <inheritdoc/>
    public IReadOnlyList<CheckpointTensor> Tensors { get; }

    /// <summary>Opens <paramref name="path"/> and validates its pickles and storage layout; throws <see cref="CheckpointException"/>.</summary>
    public static TorchLegacyReader Open(string path)
    {
        var handle = FileRange.OpenRead(path);
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            var input = new PickleInput(new FileWindowStream(handle, 0, fileLength), fileLength, path);
            if (RestrictedUnpickler.Load(input) is not BigInteger magic || magic != Magic)
                throw new CheckpointException($"{path}: not a legacy torch checkpoint (bad magic number)");
            if (RestrictedUnpickler.Load(input) is not long protocol || protocol != ProtocolVersion)
                throw new CheckpointException($"{path}: unsupported legacy protocol version (expected {ProtocolVersion})");
            CheckLittleEndian(RestrictedUnpickler.Load(input), path);
            var roots = new Dictionary<string, TorchStorageRef>(StringComparer.Ordinal);
            var root = RestrictedUnpickler.Load(input, pid => Storage(pid, input, roots));
            var keys = RestrictedUnpickler.Load(input) as List<object?>
                ?? throw new CheckpointException($"{path}: the storage key list is missing");
            var sources = LocateStorages(handle, fileLength, input.Position, keys, roots, path);
            var tensors = TorchStateDict.Entries(root, path)
                .Select(e => (CheckpointTensor)TorchStorageTensor.Create(e.Name, e.Record, sources[e.Record.Storage.Key], fileLength, path))
                .ToList();
            return new TorchLegacyReader(path, handle, tensors);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _handle.Dispose();

    private static void CheckLittleEndian(object? sysInfo, string path)
    {
        if (sysInfo is not PickleDict d || !d.TryGet("little_endian", out var le) || le is not bool little)
            throw new CheckpointException($"{path}: sys_info does not say whether the file is little-endian");
        if (!little) throw new CheckpointException($"{path}: big-endian legacy checkpoints are not supported");
    }

    /// <summary>persistent_load; a view (<c>view_metadata = (view_key, offset, size)</c>) becomes an offset into its root.</summary>
    private static TorchStorageRef Storage(object? pid, PickleInput input, Dictionary<string, TorchStorageRef> roots)
    {
        var s = TorchStorageRef.Parse(pid, input, out var extra);
        if (extra.Length != 1) throw input.Fail("legacy persistent id must have 6 fields");
        if (roots.TryGetValue(s.Key, out var known) && (known.DType != s.DType || known.Numel != s.Numel))
            throw input.Fail($"storage '{s.Key}' is declared twice with different types or sizes");
        roots[s.Key] = s;
        if (extra[0] is null) return s;
        if (extra[0] is not object?[] { Length: 3 } view || view[1] is not long offset || view[2] is not long size
            || offset < 0 || size < 0 || offset > s.Numel - size)
            throw input.Fail($"storage '{s.Key}' has a malformed view (must be (key, offset, size) inside the storage)");
        return s with { ElementOffset = offset, Numel = size };
    }

    /// <summary>Walks <c>[count][bytes]</c> records from <paramref name="offset"/>, one per listed key.</summary>
    private static Dictionary<string, StorageSource> LocateStorages(SafeFileHandle handle, long fileLength, long offset,
        List<object?> keys, Dictionary<string, TorchStorageRef> roots, string path)
    {
        var sources = new Dictionary<string, StorageSource>(StringComparer.Ordinal);
        Span<byte> countBytes = stackalloc byte[8];
        foreach (var k in keys)
        {
            if (k is not string key || !roots.TryGetValue(key, out var root))
                throw new CheckpointException($"{path}: storage key {TorchStorageRef.Describe(k)} is listed but no tensor uses it");
            if (sources.ContainsKey(key)) throw new CheckpointException($"{path}: storage key '{key}' is listed twice");
            if (offset > fileLength - 8) throw new CheckpointException($"{path}: the file ends before storage '{key}'");
            FileRange.ReadExactly(handle, countBytes, offset, path);
            long count = BinaryPrimitives.ReadInt64LittleEndian(countBytes);
            if (count != root.Numel)
                throw new CheckpointException($"{path}: storage '{key}' has {count} elements in the file but {root.Numel} in the pickle");
            int esize = CheckpointDTypes.ElementSize(root.DType);
            if (count > (fileLength - offset - 8) / esize)
                throw new CheckpointException($"{path}: storage '{key}' ({count} x {esize} bytes at {offset + 8}) runs past the end of the file");
            long bytes = count * esize;
            sources[key] = new FileStorageSource(handle, offset + 8, bytes, $"{path}: storage '{key}'");
            offset += 8 + bytes;
        }
        foreach (var key in roots.Keys)
            if (!sources.ContainsKey(key)) throw new CheckpointException($"{path}: storage '{key}' has no data (missing from the key list)");
        return sources;
    }
}
