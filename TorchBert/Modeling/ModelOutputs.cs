using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// HF <c>BaseModelOutputWithPoolingAndCrossAttentions</c>: named outputs of <see cref="BertModel"/>.
/// <see cref="HiddenStates"/>[0] is the embeddings output, [i] the output of layer i-1 (HF order).
/// Disposing releases every tensor it holds, and <see cref="PastKeyValues"/> unless it was taken out.
/// </summary>
public sealed class BertModelOutput(Tensor lastHiddenState, Tensor? poolerOutput,
    IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions,
    IReadOnlyList<Tensor>? crossAttentions = null, BertCache? pastKeyValues = null) : IDisposable
{
    /// <summary>(B, T, H).</summary>
    public Tensor LastHiddenState { get; } = lastHiddenState;
    /// <summary>(B, H); null for a model built without a pooler.</summary>
    public Tensor? PoolerOutput { get; } = poolerOutput;
    /// <summary>layers + 1 tensors of (B, T, H) when requested.</summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; } = hiddenStates;
    /// <summary>one (B, nh, T, past + T) tensor per layer when requested.</summary>
    public IReadOnlyList<Tensor>? Attentions { get; } = attentions;
    /// <summary>one (B, nh, T, S) cross-attention tensor per layer when requested from a decoder given encoder states.</summary>
    public IReadOnlyList<Tensor>? CrossAttentions { get; } = crossAttentions;
    /// <summary>A decoder's key/value cache (past + these tokens) when <c>use_cache</c>; owned by this output until <see cref="TakePastKeyValues"/>.</summary>
    public BertCache? PastKeyValues { get; private set; } = pastKeyValues;

    /// <summary>Moves <see cref="PastKeyValues"/> out: the caller owns (and disposes) it; this output no longer holds it.</summary>
    public BertCache? TakePastKeyValues()
    {
        var cache = PastKeyValues;
        PastKeyValues = null;
        return cache;
    }

    internal IEnumerable<Tensor> All() =>
        new[] { LastHiddenState, PoolerOutput }.Concat(HiddenStates ?? []).Concat(Attentions ?? []).Concat(CrossAttentions ?? [])
            .OfType<Tensor>().Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>();

    public void Dispose()
    {
        foreach (var t in All()) t.Dispose();
        TakePastKeyValues()?.Dispose();
    }
}

/// <summary>HF <c>MaskedLMOutput</c>: prediction scores and, when requested, hidden states and attentions.</summary>
public sealed class MaskedLMOutput(Tensor logits, Tensor lastHiddenState,
    IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions) : IDisposable
{
    /// <summary>(B, T, vocab) prediction scores before softmax.</summary>
    public Tensor Logits { get; } = logits;
    /// <summary>(B, T, H) encoder output the head read.</summary>
    public Tensor LastHiddenState { get; } = lastHiddenState;
    public IReadOnlyList<Tensor>? HiddenStates { get; } = hiddenStates;
    public IReadOnlyList<Tensor>? Attentions { get; } = attentions;

    public void Dispose()
    {
        foreach (var t in new[] { Logits, LastHiddenState }.Concat(HiddenStates ?? []).Concat(Attentions ?? []).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>())
            t.Dispose();
    }
}
