using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// What every attention block of one <see cref="BertModel.forward"/> reads besides its hidden states. HF passes these as
/// separate arguments down BertEncoder → BertLayer → BertAttention → BertSelfAttention (<c>attention_mask</c>,
/// <c>encoder_hidden_states</c>, <c>encoder_attention_mask</c>, <c>past_key_value</c>, <c>output_attentions</c>);
/// here they travel as one object, built once per forward. <see cref="BertEncoder"/> sets <see cref="LayerIndex"/> per layer.
/// The tensors belong to the caller; the context owns nothing.
/// </summary>
public sealed record AttentionContext
{
    /// <summary>Additive self-attention mask broadcastable to (B, nh, T, past + T): (B, 1, 1, T) for an encoder,
    /// (B, 1, T, past + T) causal × padding for a decoder (HF's <c>get_extended_attention_mask</c>); null = attend everywhere
    /// (or causally, with <see cref="IsCausal"/>).</summary>
    public Tensor? Mask { get; init; }

    /// <summary>Decoder self-attention with no <see cref="Mask"/>: attend causally (SDPA's <c>is_causal</c>, as HF's
    /// <c>BertSdpaSelfAttention</c>; eager builds the causal mask itself).</summary>
    public bool IsCausal { get; init; }

    /// <summary>Padding-free execution (encoders only): hidden states are the packed (N, H) real tokens.</summary>
    public PackedTokens? Packed { get; init; }

    /// <summary>(B, S, H) states the <c>crossattention</c> blocks attend to; null = no cross-attention.</summary>
    public Tensor? EncoderHiddenStates { get; init; }

    /// <summary>Additive cross-attention mask (B, 1, 1, S) (HF's <c>invert_attention_mask</c>); null = attend everywhere.</summary>
    public Tensor? EncoderMask { get; init; }

    /// <summary>Also return attention probabilities (HF's <c>output_attentions</c>).</summary>
    public bool OutputAttentions { get; init; }

    /// <summary>Keys/values of the tokens already seen (HF's <c>past_key_values</c>); read only.</summary>
    public BertCache? Past { get; init; }

    /// <summary>Where each attention block stores its full keys/values (past + new) when the caller asked for a cache
    /// (HF's <c>present_key_value</c>, returned as <c>past_key_values</c>); null = no cache kept.</summary>
    public BertCache? Present { get; init; }

    /// <summary>Index of the layer being run (HF's <c>layer_idx</c>): which entry of <see cref="Past"/>/<see cref="Present"/> is this layer's.</summary>
    public int LayerIndex { get; init; }

    /// <summary>An encoder's context: an additive mask (e.g. <see cref="AttentionMasks.Extended"/>), flags, optional packing.</summary>
    public static AttentionContext Encoder(Tensor? mask = null, bool outputAttentions = false, PackedTokens? packed = null) =>
        new() { Mask = mask, OutputAttentions = outputAttentions, Packed = packed };
}
