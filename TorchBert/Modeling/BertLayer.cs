using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertLayer</c>: self-attention, then (a decoder with <c>add_cross_attention</c>, given encoder states)
/// cross-attention over the encoder states, then the feed-forward block.
/// </summary>
public sealed class BertLayer : nn.Module
{
    private readonly BertAttention attention;
    private readonly BertAttention? crossattention;
    private readonly BertIntermediate intermediate;
    private readonly BertOutput output;

    /// <summary>One encoder layer (attention, optional cross-attention, feed-forward), from <paramref name="config"/>.</summary>
    public BertLayer(BertConfig config) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config);
        if (config.AddCrossAttention)
        {
            if (!config.IsDecoder)
                throw new BertConfigException("add_cross_attention is true but is_decoder is false: cross-attention layers need a decoder model (as HF's BertLayer)");
            crossattention = new BertAttention(config, isCrossAttention: true);
        }
        intermediate = new BertIntermediate(config);
        output = new BertOutput(config);
        RegisterComponents();
    }

    /// <summary>Self-attention (<c>attention</c>).</summary>
    public BertAttention Attention => attention;
    /// <summary>The <c>crossattention</c> block; null unless <see cref="BertConfig.AddCrossAttention"/>.</summary>
    public BertAttention? CrossAttention => crossattention;
    /// <summary>Feed-forward expansion (<c>intermediate</c>).</summary>
    public BertIntermediate Intermediate => intermediate;
    /// <summary>Feed-forward projection, dropout and LayerNorm (<c>output</c>).</summary>
    public BertOutput Output => output;

    /// <returns>layer output (B, T, H) — (N, H) when packed — and, when asked, the self- and cross-attention probabilities.</returns>
    public (Tensor Output, Tensor? Probs, Tensor? CrossProbs) forward(Tensor hiddenStates, AttentionContext context)
    {
        using var scope = NewDisposeScope();
        var (attentionOutput, probs) = attention.forward(hiddenStates, context);
        Tensor? crossProbs = null;
        if (context.EncoderHiddenStates is not null) // HF: is_decoder and encoder_hidden_states is not None
        {
            if (crossattention is null)
                throw new ArgumentException("encoder_hidden_states were passed but the layers have no cross-attention: the config needs add_cross_attention = true", nameof(context));
            (attentionOutput, crossProbs) = crossattention.forward(attentionOutput, context);
        }
        var layerOutput = output.forward(intermediate.forward(attentionOutput), attentionOutput); // HF's feed_forward_chunk
        return (layerOutput.MoveToOuterDisposeScope(), probs?.MoveToOuterDisposeScope(), crossProbs?.MoveToOuterDisposeScope());
    }
}
