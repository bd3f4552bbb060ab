using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// HF <c>CausalLMOutputWithCrossAttentions</c>: the outputs of <see cref="BertLMHeadModel"/>. Disposing releases every
/// tensor it holds, and <see cref="PastKeyValues"/> unless it was taken out with <see cref="TakePastKeyValues"/>.
/// </summary>
public sealed class CausalLMOutputWithCrossAttentions(Tensor? loss, Tensor logits, BertCache? pastKeyValues,
    IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions, IReadOnlyList<Tensor>? crossAttentions) : IDisposable
{
    /// <summary>Shifted next-token cross-entropy (0-dim) when labels were given.</summary>
    public Tensor? Loss { get; } = loss;
    /// <summary>(B, T, vocab) prediction scores before softmax.</summary>
    public Tensor Logits { get; } = logits;
    /// <summary>The key/value cache (past + these tokens) when <c>use_cache</c> (never with labels, as HF).</summary>
    public BertCache? PastKeyValues { get; private set; } = pastKeyValues;
    /// <summary>layers + 1 tensors of (B, T, H) when requested.</summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; } = hiddenStates;
    /// <summary>one (B, nh, T, past + T) tensor per layer when requested.</summary>
    public IReadOnlyList<Tensor>? Attentions { get; } = attentions;
    /// <summary>one (B, nh, T, S) tensor per layer when requested with encoder states.</summary>
    public IReadOnlyList<Tensor>? CrossAttentions { get; } = crossAttentions;

    /// <summary>Moves <see cref="PastKeyValues"/> out: the caller owns (and disposes) it; this output no longer holds it.</summary>
    public BertCache? TakePastKeyValues()
    {
        var cache = PastKeyValues;
        PastKeyValues = null;
        return cache;
    }

    /// <summary>Every tensor under HF's field names (<c>loss</c>, <c>logits</c>, <c>past_key_values.N.key</c>, <c>hidden_states.N</c>,
    /// <c>attentions.N</c>, <c>cross_attentions.N</c>).</summary>
    public IEnumerable<(string Name, Tensor Value)> Named()
    {
        if (Loss is not null) yield return ("loss", Loss);
        yield return ("logits", Logits);
        foreach (var named in PastKeyValues?.Named() ?? []) yield return named;
        foreach (var (list, name) in new[] { (HiddenStates, "hidden_states"), (Attentions, "attentions"), (CrossAttentions, "cross_attentions") })
            for (int i = 0; i < (list?.Count ?? 0); i++) yield return ($"{name}.{i}", list![i]);
    }

    internal IEnumerable<Tensor> Tensors() =>
        new[] { Loss, Logits }.Concat(HiddenStates ?? []).Concat(Attentions ?? []).Concat(CrossAttentions ?? [])
            .OfType<Tensor>().Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>();

    public void Dispose()
    {
        foreach (var t in Tensors()) t.Dispose();
        TakePastKeyValues()?.Dispose();
    }
}
