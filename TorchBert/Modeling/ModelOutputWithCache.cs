using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// The part HF's decoder outputs share (<c>...WithCrossAttentions</c>, <c>past_key_values</c>): cross-attention
/// probabilities and the key/value cache. The record owns the cache until <see cref="TakePastKeyValues"/> moves it out;
/// <see cref="ModelOutput.Named"/> lists its tensors as <c>past_key_values.N.key</c> / <c>.value</c> /
/// <c>.cross_key</c> / <c>.cross_value</c> while it does, and disposing the record disposes it.
/// </summary>
public abstract class ModelOutputWithCache(Tensor? loss, IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions,
    IReadOnlyList<Tensor>? crossAttentions, BertCache? pastKeyValues) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>one (B, nh, T, S) tensor per layer when requested from a decoder given encoder states.</summary>
    public IReadOnlyList<Tensor>? CrossAttentions { get; } = crossAttentions;

    /// <summary>A decoder's key/value cache (past + these tokens) when <c>use_cache</c>; null once taken out.</summary>
    public BertCache? PastKeyValues { get; private set; } = pastKeyValues;

    /// <summary>Moves <see cref="PastKeyValues"/> out: the caller owns (and disposes) it; this record no longer holds it.</summary>
    public BertCache? TakePastKeyValues()
    {
        var cache = PastKeyValues;
        PastKeyValues = null;
        return cache;
    }

    /// <summary>The cache's tensors under HF's names, for <see cref="ModelOutput.Named"/>.</summary>
    protected IEnumerable<(string Name, Tensor? Value)> PastFields() =>
        PastKeyValues?.Named().Select(n => (n.Name, (Tensor?)n.Value)) ?? [];

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor Value)> TrailingFields() =>
        (CrossAttentions ?? []).Select((t, i) => ($"cross_attentions.{i}", t));

    /// <inheritdoc/>
    protected override IEnumerable<Tensor> Borrowed() => PastKeyValues?.Named().Select(n => n.Value) ?? [];

    /// <inheritdoc/>
    public override void Dispose()
    {
        base.Dispose();
        TakePastKeyValues()?.Dispose();
    }
}
