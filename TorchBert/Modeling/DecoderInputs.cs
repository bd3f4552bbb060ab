using TorchBert.Configuration;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// The decoder inputs' checks (encoder states and mask, cache, positions past the cache), after
/// <see cref="InputValidation.Check"/> has checked <c>input_ids</c>: one-line <see cref="ArgumentException"/>s naming
/// the input and the shapes instead of a native trace.
/// </summary>
internal static class DecoderInputs
{
    /// <summary>The cache's length, after checking it is usable.</summary>
    public static long PastLength(BertCache cache)
    {
        try { return cache.Length; }
        catch (ObjectDisposedException) { throw new ArgumentException("past_key_values was disposed; pass the cache of the previous call before disposing it", "pastKeyValues"); }
    }

    public static void Check(BertConfig config, Tensor inputIds, Tensor? attentionMask, Tensor? positionIds,
        Tensor? encoderHiddenStates, Tensor? encoderAttentionMask, BertCache? past)
    {
        long batch = inputIds.shape[0], length = inputIds.shape[1];
        if (!config.IsDecoder && (encoderHiddenStates is not null || encoderAttentionMask is not null || past is not null))
            throw new ArgumentException("encoder_hidden_states, encoder_attention_mask and past_key_values are decoder inputs, " +
                                        "but the config has is_decoder = false (HF's BertModel would ignore them)");

        long pastLength = 0;
        if (past is not null)
        {
            past.CheckFits(config, batch);
            pastLength = past.Length;
            if (past.HasCrossAttention && encoderHiddenStates is null)
                throw new ArgumentException("past_key_values holds cross-attention keys/values but encoder_hidden_states is null; " +
                                            "pass the same encoder_hidden_states at every step", nameof(encoderHiddenStates));
            if (positionIds is null && pastLength + length > config.MaxPositionEmbeddings)
                throw new ArgumentException($"past_key_values holds {pastLength} tokens and input_ids adds {length}: {pastLength + length} " +
                                            $"positions exceed max_position_embeddings ({config.MaxPositionEmbeddings})", nameof(past));
            if (attentionMask is not null && (attentionMask.dim() != 2 || attentionMask.shape[0] != batch || attentionMask.shape[1] != pastLength + length))
                throw new ArgumentException($"attention_mask has shape {InputValidation.Shape(attentionMask)} but with past_key_values of length {pastLength} " +
                                            $"and input_ids {InputValidation.Shape(inputIds)} it must cover past + new tokens: [{batch}, {pastLength + length}]", nameof(attentionMask));
        }

        if (encoderAttentionMask is not null && encoderHiddenStates is null)
            throw new ArgumentException("encoder_attention_mask was given without encoder_hidden_states", nameof(encoderAttentionMask));
        if (encoderHiddenStates is null) return;
        if (!config.AddCrossAttention)
            throw new ArgumentException("encoder_hidden_states were passed but the model has no cross-attention layers: " +
                                        "the config needs add_cross_attention = true", nameof(encoderHiddenStates));
        if (encoderHiddenStates.dim() != 3 || encoderHiddenStates.shape[0] != batch || encoderHiddenStates.shape[2] != config.HiddenSize)
            throw new ArgumentException($"encoder_hidden_states has shape {InputValidation.Shape(encoderHiddenStates)}; it must be " +
                                        $"(batch {batch}, source length, hidden_size {config.HiddenSize})", nameof(encoderHiddenStates));
        if (!encoderHiddenStates.is_floating_point())
            throw new ArgumentException($"encoder_hidden_states must be floating point, got {encoderHiddenStates.dtype}", nameof(encoderHiddenStates));
        if (past?.CrossKey(0) is { } crossKey && crossKey.shape[2] != encoderHiddenStates.shape[1])
            throw new ArgumentException($"past_key_values holds cross-attention keys for {crossKey.shape[2]} source positions but encoder_hidden_states " +
                                        $"has {encoderHiddenStates.shape[1]} ({InputValidation.Shape(encoderHiddenStates)})", nameof(encoderHiddenStates));
        if (encoderAttentionMask is not null && !encoderAttentionMask.shape.SequenceEqual(encoderHiddenStates.shape[..2]))
            throw new ArgumentException($"encoder_attention_mask has shape {InputValidation.Shape(encoderAttentionMask)} but encoder_hidden_states " +
                                        $"{InputValidation.Shape(encoderHiddenStates)} needs [{batch}, {encoderHiddenStates.shape[1]}]", nameof(encoderAttentionMask));
    }
}
