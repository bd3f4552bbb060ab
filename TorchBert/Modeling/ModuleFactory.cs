using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// Creates the Linear, Embedding and LayerNorm layers (and loose parameters) of the BERT modules.
/// Normally these are TorchSharp's own layers, which <see cref="BertPreTrainedModel.InitWeights"/> then re-initialises as HF does.
/// Inside <see cref="Uninitialized"/> (HF's <c>no_init_weights</c> plus <c>device</c>/<c>torch_dtype</c>, used while loading a
/// checkpoint) Linear and Embedding parameters are <c>torch.empty</c> on the load's device and dtype instead: no random
/// initialisation, no second copy, and the checkpoint is read straight into them. Whoever opens the scope must fill every
/// such parameter (see <see cref="Pretrained.LoadWeights"/>, which initialises what the checkpoint lacks).
/// </summary>
internal static class ModuleFactory
{
    [ThreadStatic] private static Target? current;

    private sealed record Target(Device Device, ScalarType DType);

    /// <summary>Whether modules are being built uninitialised (the model's constructor then skips InitWeights too).</summary>
    public static bool SkipsInit => current is not null;

    /// <summary>Until disposed, builds uninitialised parameters on <paramref name="device"/> with <paramref name="dtype"/>.</summary>
    public static IDisposable Uninitialized(Device device, ScalarType dtype)
    {
        var previous = current;
        current = new Target(device, dtype);
        return new Restore(previous);
    }

    /// <summary>y = x Wᵀ + b with W (out, in) and b (out).</summary>
    public static Linear Linear(long inFeatures, long outFeatures) =>
        current is { } t ? nn.Linear(Empty(t, outFeatures, inFeatures), Empty(t, outFeatures)) : nn.Linear(inFeatures, outFeatures);

    /// <summary>A (num, dim) lookup table.</summary>
    public static Embedding Embedding(long num, long dim, long? paddingIdx = null)
    {
        if (current is not { } t) return nn.Embedding(num, dim, padding_idx: paddingIdx);
        // TorchSharp's Embedding constructors (from_pretrained too) fill a full-size table at random: build one just wide
        // enough for the padding index, then swap in the uninitialised table (forward reads only the weight).
        var e = nn.Embedding((paddingIdx ?? 0) + 1, 1, padding_idx: paddingIdx);
        using var initial = e.named_parameters().Single().parameter; // the registered handle, freed once replaced
        e.weight = Empty(t, num, dim);
        return e;
    }

    /// <summary>LayerNorm over the last dimension (weight ones, bias zeros: cheap, so always initialised).</summary>
    public static LayerNorm LayerNorm(long size, double eps) =>
        current is { } t ? nn.LayerNorm(size, eps, device: t.Device, dtype: t.DType) : nn.LayerNorm(size, eps);

    /// <summary>A free-standing (size) parameter, zeros when initialised.</summary>
    public static Parameter Zeros(long size) => current is { } t ? Empty(t, size) : new Parameter(zeros(size));

    /// <summary>A free-standing (out, in) parameter: uninitialised on the load's device inside <see cref="Uninitialized"/>, else
    /// zeros (the owner initialises it, see <see cref="BertPreTrainedModel.InitWeights"/>).</summary>
    public static Parameter Empty(params long[] shape) => current is { } t ? Empty(t, shape) : new Parameter(zeros(shape));

    private static Parameter Empty(Target t, params long[] shape) => new(empty(shape, t.DType, t.Device));

    private sealed class Restore(Target? previous) : IDisposable
    {
        public void Dispose() => current = previous;
    }
}
