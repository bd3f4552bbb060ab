using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertPooler</c>: tanh(dense(hidden[:, 0])), (B, T, H) → (B, H).</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>, IFastLinearOwner
{
    private readonly Linear dense;
    private readonly TanhActivation activation;
    private readonly FastLinears fast;

    /// <summary>The [CLS] pooler (dense + tanh), from <paramref name="config"/>.</summary>
    public BertPooler(BertConfig config) : base(nameof(BertPooler))
    {
        dense = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        activation = new TanhActivation();
        fast = new FastLinears(dense);
        RegisterComponents();
    }

    IEnumerable<FastLinears> IFastLinearOwner.FastLinearGroups => [fast];

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        var first = hiddenStates.select(1, 0);                          // (B, H)
        if (fast.TryForward(this, first, FusedActivation.Tanh) is { } fused) return fused.MoveToOuterDisposeScope();
        return activation.forward(dense.forward(first)).MoveToOuterDisposeScope();
    }
}
