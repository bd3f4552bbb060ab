using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertSelfOutput</c>: LayerNorm(dropout(dense(context)) + input).</summary>
public sealed class BertSelfOutput : nn.Module<Tensor, Tensor, Tensor>, IFastLinearOwner
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly FastLinears fast;

    /// <summary>The attention output projection, dropout and LayerNorm, from <paramref name="config"/>.</summary>
    public BertSelfOutput(BertConfig config) : base(nameof(BertSelfOutput))
    {
        dense = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = ModuleFactory.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        fast = new FastLinears(dense);
        RegisterComponents();
    }

    IEnumerable<FastLinears> IFastLinearOwner.FastLinearGroups => [fast];

    /// <param name="hiddenStates">attention context (B, T, H).</param>
    /// <param name="inputTensor">the attention block's input (B, T, H), the residual.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor inputTensor)
    {
        using var scope = NewDisposeScope();
        // Inference: dropout is the identity, and oneDNN adds the residual inside the product.
        if (fast.TryForward(this, hiddenStates, residual: inputTensor) is { } sum) return LayerNorm.forward(sum).MoveToOuterDisposeScope();
        return LayerNorm.forward(dropout.forward(dense.forward(hiddenStates)).Plus(inputTensor)).MoveToOuterDisposeScope();
    }
}
