using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertOutput</c>: LayerNorm(dropout(dense(intermediate)) + attention output).</summary>
public sealed class BertOutput : nn.Module<Tensor, Tensor, Tensor>, IFastLinearOwner
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly FastLinears fast;

    /// <summary>The feed-forward projection (intermediate → hidden), dropout and LayerNorm, from <paramref name="config"/>.</summary>
    public BertOutput(BertConfig config) : base(nameof(BertOutput))
    {
        dense = ModuleFactory.Linear(config.IntermediateSize, config.HiddenSize);
        LayerNorm = ModuleFactory.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        fast = new FastLinears(dense);
        RegisterComponents();
    }

    IEnumerable<FastLinears> IFastLinearOwner.FastLinearGroups => [fast];

    /// <param name="hiddenStates">intermediate activations (B, T, I).</param>
    /// <param name="inputTensor">attention output (B, T, H), the residual.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor inputTensor)
    {
        using var scope = NewDisposeScope();
        // Inference: dropout is the identity, and oneDNN adds the residual inside the product.
        if (fast.TryForward(this, hiddenStates, residual: inputTensor) is { } sum) return LayerNorm.forward(sum).MoveToOuterDisposeScope();
        return LayerNorm.forward(dropout.forward(dense.forward(hiddenStates)).Plus(inputTensor)).MoveToOuterDisposeScope();
    }
}
