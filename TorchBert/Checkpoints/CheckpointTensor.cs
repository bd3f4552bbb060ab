using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>
/// One named tensor in a checkpoint file, described (dtype, shape) without reading its data.
/// <see cref="Load"/> reads it into a new CPU tensor straight from the file, so a model is filled one tensor at a time
/// and peak memory stays near the weights' size.
/// </summary>
public abstract class CheckpointTensor(string name, ScalarType dtype, long[] shape)
{
    /// <summary>The tensor's name in the checkpoint (e.g. <c>bert.encoder.layer.0.attention.self.query.weight</c>).</summary>
    public string Name { get; } = name;
    /// <summary>Element type as stored in the file.</summary>
    public ScalarType DType { get; } = dtype;
    /// <summary>Shape as stored in the file.</summary>
    public long[] Shape { get; } = shape;
    /// <summary>Product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long NumElements => Shape.Aggregate(1L, (a, b) => checked(a * b));

    /// <summary>Reads the data into a new, owned CPU tensor of <see cref="DType"/> and <see cref="Shape"/>.</summary>
    public abstract Tensor Load();

    /// <summary>
    /// Fills <paramref name="target"/> (same shape, any dtype and device) with the data. A contiguous CPU target of
    /// <see cref="DType"/> gets the file bytes read straight into its memory where the format allows (no temporary);
    /// otherwise the data is loaded and copied in, which also converts the dtype and moves it to the target's device.
    /// </summary>
    public void LoadInto(Tensor target)
    {
        if (!target.shape.SequenceEqual(Shape))
            throw new ArgumentException($"{Name}: target shape [{string.Join(", ", target.shape)}] is not [{string.Join(", ", Shape)}]", nameof(target));
        if (target.device_type == DeviceType.CPU && target.dtype == DType && target.is_contiguous() && TryReadInto(target)) return;
        using var data = Load();
        using var noGrad = no_grad();
        target.copy_(data);
    }

    /// <summary>
    /// Reads the data straight into <paramref name="target"/> (contiguous CPU, <see cref="DType"/>, <see cref="Shape"/>);
    /// false when this tensor can't be read that way (then <see cref="LoadInto"/> loads and copies).
    /// </summary>
    private protected virtual bool TryReadInto(Tensor target) => false;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {DType} [{string.Join(", ", Shape)}]";
}

/// <summary>An opened checkpoint: its tensors by name, in file order. Disposing closes the file(s).</summary>
public interface ICheckpointReader : IDisposable
{
    /// <summary>Path of the file (or index) read.</summary>
    string Path { get; }
    /// <summary>Human-readable format name, e.g. "safetensors", "torch zip", "torch legacy", "onnx".</summary>
    string Format { get; }
    /// <summary>The tensors, in file order.</summary>
    IReadOnlyList<CheckpointTensor> Tensors { get; }
}

/// <summary>A checkpoint file that is malformed, hostile or unsupported. The message names the file and the problem.</summary>
public class CheckpointException(string message, Exception? inner = null) : TorchBertException(message, inner);
