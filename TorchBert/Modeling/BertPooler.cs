using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertPooler</c>: tanh(dense(hidden[:, 0])), (B, T, H) → (B, H).</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly TanhActivation activation;

    /// <summary>The [CLS] pooler (dense + tanh), from <paramref name="config"/>.</summary>
    public BertPooler(BertConfig config) : base(nameof(BertPooler))
    {
        dense = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        activation = new TanhActivation();
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        var first = hiddenStates.select(1, 0);                          // (B, H)
        return activation.forward(dense.forward(first)).MoveToOuterDisposeScope();
    }
}
