using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// HF <c>CausalLMOutputWithCrossAttentions</c>: the outputs of <see cref="BertLMHeadModel"/> — <c>loss</c> (shifted
/// next-token cross-entropy, when labels were given), <c>logits</c>, <c>past_key_values</c>, <c>hidden_states</c>,
/// <c>attentions</c>, <c>cross_attentions</c>. Disposing releases every tensor it holds, and the cache unless it was taken out.
/// </summary>
public sealed class CausalLMOutputWithCrossAttentions(Tensor? loss, Tensor logits, BertCache? pastKeyValues,
    IReadOnlyList<Tensor>? hiddenStates, IReadOnlyList<Tensor>? attentions, IReadOnlyList<Tensor>? crossAttentions)
    : ModelOutputWithCache(loss, hiddenStates, attentions, crossAttentions, pastKeyValues)
{
    /// <summary>(B, T, vocab) prediction scores before softmax.</summary>
    public Tensor Logits { get; } = logits;

    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() =>
        new (string, Tensor?)[] { ("logits", Logits) }.Concat(PastFields());
}
