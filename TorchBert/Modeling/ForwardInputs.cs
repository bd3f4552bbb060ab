using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// The inputs of any model class's forward, by HF's argument names: what a generic caller (the CLI's <c>forward</c>, the
/// converter's verify) passes to <see cref="BertPreTrainedModel.Forward"/>. An input the class does not take is an
/// <see cref="ArgumentException"/> naming it, never silently dropped.
/// </summary>
public sealed record ForwardInputs
{
    /// <summary>(B, T) token ids; (B, C, T) for multiple choice.</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>(B, T) 1/0 mask; null attends to every token.</summary>
    public Tensor? AttentionMask { get; init; }
    /// <summary>(B, T) segment ids; null means all zeros.</summary>
    public Tensor? TokenTypeIds { get; init; }
    /// <summary>(B, T) positions; null means 0 … T−1 (after any cached prefix).</summary>
    public Tensor? PositionIds { get; init; }
    /// <summary>HF <c>labels</c>: class ids, token ids or regression targets, as the class defines them.</summary>
    public Tensor? Labels { get; init; }
    /// <summary>(B) gold answer start positions (question answering loss).</summary>
    public Tensor? StartPositions { get; init; }
    /// <summary>(B) gold answer end positions (question answering loss).</summary>
    public Tensor? EndPositions { get; init; }
    /// <summary>HF <c>next_sentence_label</c> (BertForPreTraining).</summary>
    public Tensor? NextSentenceLabel { get; init; }
    /// <summary>HF <c>encoder_hidden_states</c> (B, S, H): for decoders with cross-attention.</summary>
    public Tensor? EncoderHiddenStates { get; init; }
    /// <summary>HF <c>encoder_attention_mask</c> (B, S).</summary>
    public Tensor? EncoderAttentionMask { get; init; }
    /// <summary>Return every layer's hidden states.</summary>
    public bool OutputHiddenStates { get; init; }
    /// <summary>Return every layer's attention probabilities.</summary>
    public bool OutputAttentions { get; init; }

    /// <summary>HF names of the optional tensor inputs, with their values.</summary>
    public IEnumerable<(string Name, Tensor? Value)> Optional() =>
    [
        ("attention_mask", AttentionMask), ("token_type_ids", TokenTypeIds), ("position_ids", PositionIds),
        ("labels", Labels), ("start_positions", StartPositions), ("end_positions", EndPositions),
        ("next_sentence_label", NextSentenceLabel), ("encoder_hidden_states", EncoderHiddenStates),
        ("encoder_attention_mask", EncoderAttentionMask),
    ];

    /// <summary>Throws when an input other than the common ones and <paramref name="accepted"/> is given.</summary>
    public void AcceptOnly(BertPreTrainedModel model, params string[] accepted)
    {
        string[] common = ["attention_mask", "token_type_ids", "position_ids"];
        var extra = Optional().Where(o => o.Value is not null && !common.Contains(o.Name) && !accepted.Contains(o.Name)).Select(o => o.Name).ToList();
        if (extra.Count > 0)
            throw new ArgumentException($"{model.GetType().Name} takes no {string.Join(", ", extra)} " +
                                        $"(its extra inputs: {(accepted.Length == 0 ? "none" : string.Join(", ", accepted))})", extra[0]);
    }
}
