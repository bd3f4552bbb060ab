using TorchBert.Checkpoints;
using static TorchSharp.torch;

namespace TorchBert.Onnx;

/// <summary>
/// One imported weight: an ONNX tensor under its HF name. A Linear weight exported for <c>MatMul</c> is stored
/// [in, out]; <see cref="Transposed"/> ones are loaded as HF's contiguous [out, in].
/// </summary>
internal sealed class OnnxCheckpointTensor(OnnxModel model, OnnxTensorInfo source, string name, ScalarType dtype, bool transposed)
    : CheckpointTensor(name, dtype, transposed ? [source.Dims[1], source.Dims[0]] : source.Dims.ToArray())
{
    /// <summary>The ONNX tensor read (its name may be anonymous, e.g. "927" or "onnx::MatMul_1234").</summary>
    public OnnxTensorInfo Source { get; } = source;
    public bool Transposed { get; } = transposed;

    /// <summary>The tensor as stored in the ONNX file (not transposed).</summary>
    public Tensor LoadStored() => OnnxTensorData.Load(model, Source);

    public override Tensor Load()
    {
        var stored = LoadStored();
        if (!Transposed) return stored;
        using (stored)
        using (var view = stored.t())
            return view.contiguous();
    }
}

/// <summary>
/// The weights of an imported ONNX BERT, by HF name, in HF <c>BertModel</c> state-dict order (the ONNX file has no
/// meaningful order for them). Disposing unmaps the ONNX file; tensors cannot be loaded afterwards.
/// </summary>
internal sealed class OnnxCheckpointReader(OnnxModel model, IReadOnlyList<CheckpointTensor> tensors) : ICheckpointReader
{
    public string Path => model.Path;
    public string Format => "onnx";
    public IReadOnlyList<CheckpointTensor> Tensors { get; } = tensors;
    public void Dispose() => model.Dispose();
}
