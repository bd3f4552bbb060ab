using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertIntermediate</c>: act(dense(x)), (B, T, H) → (B, T, I).</summary>
public sealed class BertIntermediate : nn.Module<Tensor, Tensor>, IFastLinearOwner
{
    private readonly Linear dense;
    private readonly nn.Module<Tensor, Tensor> intermediate_act_fn;
    private readonly FastLinears fast;
    private readonly FusedActivation fusedAct;

    /// <summary>The feed-forward expansion (hidden → intermediate) and activation, from <paramref name="config"/>.</summary>
    public BertIntermediate(BertConfig config) : base(nameof(BertIntermediate))
    {
        dense = ModuleFactory.Linear(config.HiddenSize, config.IntermediateSize);
        intermediate_act_fn = Activations.Create(config.HiddenAct);
        fast = new FastLinears(dense);
        fusedAct = Activations.Fused(config.HiddenAct);
        RegisterComponents();
    }

    IEnumerable<FastLinears> IFastLinearOwner.FastLinearGroups => [fast];

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        if (fast.TryForward(this, hiddenStates, fusedAct) is { } fused) return fused.MoveToOuterDisposeScope();
        return intermediate_act_fn.forward(dense.forward(hiddenStates)).MoveToOuterDisposeScope();
    }
}
