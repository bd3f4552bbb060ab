using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertPredictionHeadTransform</c>: LayerNorm(act(dense(x))).</summary>
public sealed class BertPredictionHeadTransform : nn.Module<Tensor, Tensor>, IFastLinearOwner
{
    private readonly Linear dense;
    private readonly nn.Module<Tensor, Tensor> transform_act_fn;
    private readonly LayerNorm LayerNorm;
    private readonly FastLinears fast;
    private readonly FusedActivation fusedAct;

    /// <summary>Dense + activation + LayerNorm, from <paramref name="config"/>.</summary>
    public BertPredictionHeadTransform(BertConfig config) : base(nameof(BertPredictionHeadTransform))
    {
        dense = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        transform_act_fn = Activations.Create(config.HiddenAct);
        LayerNorm = ModuleFactory.LayerNorm(config.HiddenSize, config.LayerNormEps);
        fast = new FastLinears(dense);
        fusedAct = Activations.Fused(config.HiddenAct);
        RegisterComponents();
    }

    IEnumerable<FastLinears> IFastLinearOwner.FastLinearGroups => [fast];

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        if (fast.TryForward(this, hiddenStates, fusedAct) is { } fused) return LayerNorm.forward(fused).MoveToOuterDisposeScope();
        return LayerNorm.forward(transform_act_fn.forward(dense.forward(hiddenStates))).MoveToOuterDisposeScope();
    }
}
