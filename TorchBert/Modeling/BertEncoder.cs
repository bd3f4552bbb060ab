using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertEncoder</c>: a stack of <see cref="BertLayer"/>s.</summary>
public sealed class BertEncoder : nn.Module
{
    private readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig config) : base(nameof(BertEncoder))
    {
        layer = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new BertLayer(config)).ToArray());
        RegisterComponents();
    }

    public IList<BertLayer> Layers => layer;

    /// <returns>the last hidden state; all hidden states (input first, as HF) and attentions when asked. With
    /// <paramref name="packed"/>, hidden states in and out are the packed (N, H) real tokens.</returns>
    public (Tensor LastHiddenState, List<Tensor>? HiddenStates, List<Tensor>? Attentions) forward(
        Tensor hiddenStates, Tensor? attentionMask = null, bool outputHiddenStates = false, bool outputAttentions = false,
        PackedTokens? packed = null)
    {
        using var scope = NewDisposeScope();
        var input = hiddenStates; // caller-owned: never moved out of the caller's scope
        var allHidden = outputHiddenStates ? new List<Tensor> { hiddenStates } : null;
        var allAttentions = outputAttentions ? new List<Tensor>() : null;
        foreach (var l in layer)
        {
            var (next, probs) = l.forward(hiddenStates, attentionMask, outputAttentions, packed);
            hiddenStates = next;
            allHidden?.Add(hiddenStates);
            if (probs is not null) allAttentions!.Add(probs);
        }
        foreach (var t in allHidden ?? [hiddenStates])
            if (!ReferenceEquals(t, input)) t.MoveToOuterDisposeScope();
        allAttentions?.ForEach(t => t.MoveToOuterDisposeScope());
        return (hiddenStates, allHidden, allAttentions);
    }
}
