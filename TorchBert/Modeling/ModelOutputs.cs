using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// HF <c>ModelOutput</c>: the base of every named output record. It lists its tensors under HF's field names
/// (<see cref="Named"/>: <c>loss</c>, <c>logits</c>, ..., <c>hidden_states.N</c>, <c>attentions.N</c>) in HF's field order,
/// and disposing it releases every tensor it holds (each once, even when two fields share one).
/// </summary>
public abstract class ModelOutput(Tensor? loss, IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions) : IDisposable
{
    /// <summary>0-dim loss when labels were given (HF computes none otherwise).</summary>
    public Tensor? Loss { get; } = loss;
    /// <summary>layers + 1 tensors of (B, T, H) when requested: [0] the embeddings output, [i] layer i-1's output.</summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; } = hiddenStates;
    /// <summary>one (B, nh, T, T) tensor per layer when requested.</summary>
    public IReadOnlyList<Tensor>? Attentions { get; } = attentions;

    /// <summary>The record's own fields between <c>loss</c> and <c>hidden_states</c> (e.g. <c>logits</c>), in HF's order; null = absent.</summary>
    protected abstract IEnumerable<(string Name, Tensor? Value)> Fields();

    /// <summary>Fields HF lists after <c>attentions</c> (<c>cross_attentions.N</c>, ...); none by default.</summary>
    protected virtual IEnumerable<(string Name, Tensor Value)> TrailingFields() => [];

    /// <summary>Tensors the record owns that are not HF fields (disposed with it, not listed by <see cref="Named"/>).</summary>
    protected virtual IEnumerable<Tensor> Unlisted() => [];

    /// <summary>Every present output under its HF name, in HF's field order.</summary>
    public IEnumerable<(string Name, Tensor Value)> Named()
    {
        if (Loss is not null) yield return ("loss", Loss);
        foreach (var (name, value) in Fields())
            if (value is not null) yield return (name, value);
        for (int i = 0; i < (HiddenStates?.Count ?? 0); i++) yield return ($"hidden_states.{i}", HiddenStates![i]);
        for (int i = 0; i < (Attentions?.Count ?? 0); i++) yield return ($"attentions.{i}", Attentions![i]);
        foreach (var field in TrailingFields()) yield return field;
    }

    /// <summary>Tensors <see cref="Named"/> lists that another object owns (a <see cref="BertCache"/>): not moved or disposed as the record's own.</summary>
    protected virtual IEnumerable<Tensor> Borrowed() => [];

    /// <summary>Every tensor the record owns, each once.</summary>
    internal IEnumerable<Tensor> All()
    {
        var borrowed = Borrowed().ToHashSet<object>(ReferenceEqualityComparer.Instance);
        return Named().Select(n => n.Value).Concat(Unlisted()).Where(t => !borrowed.Contains(t))
            .Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>();
    }

    /// <summary>Moves every owned tensor out of the current dispose scope (the end of a forward).</summary>
    internal T MoveOut<T>() where T : ModelOutput
    {
        foreach (var t in All()) t.MoveToOuterDisposeScope();
        return (T)this;
    }

    /// <summary>Disposes every tensor this output holds.</summary>
    public virtual void Dispose()
    {
        foreach (var t in All()) t.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// HF <c>BaseModelOutputWithPoolingAndCrossAttentions</c>: named outputs of <see cref="BertModel"/>; a decoder's also carry
/// cross-attentions and the key/value cache (see <see cref="ModelOutputWithCache"/>).
/// </summary>
public sealed class BertModelOutput(Tensor lastHiddenState, Tensor? poolerOutput,
    IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions,
    IReadOnlyList<Tensor>? crossAttentions = null, BertCache? pastKeyValues = null)
    : ModelOutputWithCache(null, hiddenStates, attentions, crossAttentions, pastKeyValues)
{
    /// <summary>(B, T, H).</summary>
    public Tensor LastHiddenState { get; } = lastHiddenState;
    /// <summary>(B, H); null for a model built without a pooler.</summary>
    public Tensor? PoolerOutput { get; } = poolerOutput;

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() =>
        new (string, Tensor?)[] { ("last_hidden_state", LastHiddenState), ("pooler_output", PoolerOutput) }.Concat(PastFields());
}

/// <summary>HF <c>MaskedLMOutput</c>: prediction scores, the MLM loss when labels were given, hidden states and attentions.</summary>
public sealed class MaskedLMOutput(Tensor logits, Tensor lastHiddenState,
    IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions, Tensor? loss = null) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>(B, T, vocab) prediction scores before softmax.</summary>
    public Tensor Logits { get; } = logits;
    /// <summary>(B, T, H) encoder output the head read (not an HF field: kept for pipelines that pool it).</summary>
    public Tensor LastHiddenState { get; } = lastHiddenState;

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() => [("logits", Logits)];
    /// <inheritdoc/>
    protected override IEnumerable<Tensor> Unlisted() => [LastHiddenState];
}
