using System.IO.MemoryMappedFiles;
using TorchBert.Checkpoints;

namespace TorchBert.Onnx;

/// <summary>
/// An ONNX model file, memory-mapped read-only and parsed into an <see cref="OnnxGraph"/> whose tensors point back into
/// the mapping. Disposing unmaps the file; tensors cannot be read afterwards.
/// </summary>
internal sealed unsafe class OnnxModel : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _pointer;

    private OnnxModel(string path, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        _pointer = pointer;
    }

    public string Path { get; }
    public long Length { get; }
    public long IrVersion { get; set; }
    public string ProducerName { get; set; } = "";
    public string ProducerVersion { get; set; } = "";
    public List<(string Domain, long Version)> Opsets { get; } = new();
    public OnnxGraph Graph { get; } = new();

    /// <summary>Maps and parses <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointException">Missing, empty, over 2 GiB (protobuf's limit), or malformed.</exception>
    public static OnnxModel Open(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: ONNX file not found");
        var length = new FileInfo(path).Length;
        if (length == 0) throw new CheckpointException($"{path}: empty file, not an ONNX model");
        if (length > int.MaxValue)
            throw new CheckpointException($"{path}: {length} bytes is over protobuf's 2 GiB limit (not an ONNX model file)");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        OnnxModel? model = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            model = new OnnxModel(path, length, map, view, pointer + view.PointerOffset);
            var reader = new ProtoReader(model.Span(0, (int)length), 0, path, "ModelProto", "ModelProto");
            OnnxParser.ParseModel(ref reader, model);
            return model;
        }
        catch
        {
            if (model is not null) model.Dispose();
            else { view?.Dispose(); map.Dispose(); }
            throw;
        }
    }

    /// <summary>The mapped bytes [offset, offset + length).</summary>
    public ReadOnlySpan<byte> Span(long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_pointer is null, this);
        if (offset < 0 || length < 0 || offset > Length - length)
            throw new CheckpointException($"{Path}: range [{offset}, +{length}) is outside the file ({Length} bytes)");
        return new ReadOnlySpan<byte>(_pointer + offset, length);
    }

    public void Dispose()
    {
        if (_pointer is null) return;
        _pointer = null;
        _view?.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _map?.Dispose();
    }
}
