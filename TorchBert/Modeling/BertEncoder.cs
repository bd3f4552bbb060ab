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

    /// <summary>The stack of <c>num_hidden_layers</c> layers, from <paramref name="config"/>.</summary>
    public BertEncoder(BertConfig config) : base(nameof(BertEncoder))
    {
        layer = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new BertLayer(config)).ToArray());
        RegisterComponents();
    }

    /// <summary>The layers (<c>layer.N</c>).</summary>
    public IList<BertLayer> Layers => layer;

    /// <param name="hiddenStates">(B, T, H), or the packed (N, H) real tokens when <see cref="AttentionContext.Packed"/> is set.</param>
    /// <param name="context">one forward's masks, encoder states, cache and flags; each layer gets it with its <see cref="AttentionContext.LayerIndex"/>.</param>
    /// <param name="outputHiddenStates">also return every hidden state (input first, as HF).</param>
    /// <returns>the last hidden state; all hidden states, self-attentions and cross-attentions when asked (the caches go to
    /// <see cref="AttentionContext.Present"/>).</returns>
    public (Tensor LastHiddenState, List<Tensor>? HiddenStates, List<Tensor>? Attentions, List<Tensor>? CrossAttentions) forward(
        Tensor hiddenStates, AttentionContext context, bool outputHiddenStates = false)
    {
        using var scope = NewDisposeScope();
        var input = hiddenStates; // caller-owned: never moved out of the caller's scope
        var allHidden = outputHiddenStates ? new List<Tensor> { hiddenStates } : null;
        var allAttentions = context.OutputAttentions ? new List<Tensor>() : null;
        var allCross = context.OutputAttentions && context.EncoderHiddenStates is not null ? new List<Tensor>() : null;
        for (int i = 0; i < layer.Count; i++)
        {
            var (next, probs, crossProbs) = layer[i].forward(hiddenStates, context with { LayerIndex = i });
            hiddenStates = next;
            allHidden?.Add(hiddenStates);
            if (probs is not null) allAttentions!.Add(probs);
            if (crossProbs is not null) allCross!.Add(crossProbs);
        }
        foreach (var t in allHidden ?? [hiddenStates])
            if (!ReferenceEquals(t, input)) t.MoveToOuterDisposeScope();
        allAttentions?.ForEach(t => t.MoveToOuterDisposeScope());
        allCross?.ForEach(t => t.MoveToOuterDisposeScope());
        return (hiddenStates, allHidden, allAttentions, allCross);
    }
}
