using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>
/// Reads a <c>.safetensors</c> file: <c>[u64 LE N][N bytes JSON header][data]</c>. The header is validated in full on
/// <see cref="Open"/>; each <see cref="CheckpointTensor.Load"/> reads its bytes once, straight into the new tensor
/// (<see cref="CheckpointTensor.LoadInto"/>: straight into the given one).
/// The file stays open (shared read) until the reader is disposed; tensors may be loaded in any order.
/// </summary>
public sealed class SafeTensorsReader : ICheckpointReader
{
    private readonly SafeFileHandle _handle;

    private SafeTensorsReader(string path, SafeFileHandle handle, IReadOnlyList<CheckpointTensor> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        _handle = handle;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <inheritdoc/>
    public string Path { get; }
    /// <inheritdoc/>
    public string Format => "safetensors";
    /// <inheritdoc/>
    public IReadOnlyList<CheckpointTensor> Tensors { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when absent), e.g. <c>{"format": "pt"}</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="CheckpointException"/> for a malformed file.</summary>
    public static SafeTensorsReader Open(string path)
    {
        var handle = FileRange.OpenRead(path);
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            if (fileLength < 8)
                throw new CheckpointException($"{path}: {fileLength} bytes is too short for a safetensors file (8-byte header length)");
            Span<byte> lenBytes = stackalloc byte[8];
            FileRange.ReadExactly(handle, lenBytes, 0, path);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
            if (n > (ulong)(fileLength - 8))
                throw new CheckpointException($"{path}: header length {n} exceeds the file ({fileLength} bytes)");
            if (n > SafeTensorsHeader.MaxHeaderBytes)
                throw new CheckpointException($"{path}: header length {n} is above the {SafeTensorsHeader.MaxHeaderBytes}-byte limit");
            var json = new byte[n];
            FileRange.ReadExactly(handle, json, 8, path);
            if (n < 2 || json[0] != (byte)'{')
                throw new CheckpointException($"{path}: the safetensors header does not start with '{{'");
            long dataStart = 8 + (long)n;
            var (entries, metadata) = SafeTensorsHeader.Parse(json, fileLength - dataStart, path);
            var tensors = entries
                .Select(e => (CheckpointTensor)new Entry(e, handle, dataStart, path))
                .ToList();
            return new SafeTensorsReader(path, handle, tensors, metadata);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _handle.Dispose();

    /// <summary>A header entry; its data is at <c>dataStart + Begin</c> in the file.</summary>
    private sealed class Entry(SafeTensorsEntry e, SafeFileHandle handle, long dataStart, string path)
        : CheckpointTensor(e.Name, e.DType, e.Shape)
    {
        public override Tensor Load()
        {
            var t = empty(Shape, DType);
            try
            {
                ReadInto(t);
                return t;
            }
            catch
            {
                t.Dispose();
                throw;
            }
        }

        private protected override bool TryReadInto(Tensor target)
        {
            ReadInto(target);
            return true;
        }

        private void ReadInto(Tensor t)
        {
            ObjectDisposedException.ThrowIf(handle.IsClosed, handle);
            FileRange.ReadInto(handle, t, dataStart + e.Begin, $"{path}: tensor '{Name}'");
        }
    }
}
