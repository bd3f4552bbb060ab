using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertLayer</c> (encoder-only): attention, then the feed-forward block.</summary>
public sealed class BertLayer : nn.Module
{
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertOutput output;

    public BertLayer(BertConfig config) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config);
        intermediate = new BertIntermediate(config);
        output = new BertOutput(config);
        RegisterComponents();
    }

    public BertAttention Attention => attention;
    public BertIntermediate Intermediate => intermediate;
    public BertOutput Output => output;

    /// <returns>layer output (B, T, H) — (N, H) when <paramref name="packed"/> — and, when asked, attention probabilities (B, nh, T, T).</returns>
    public (Tensor Output, Tensor? Probs) forward(Tensor hiddenStates, Tensor? attentionMask = null, bool outputAttentions = false,
        PackedTokens? packed = null)
    {
        using var scope = NewDisposeScope();
        var (attentionOutput, probs) = attention.forward(hiddenStates, attentionMask, outputAttentions, packed);
        var layerOutput = output.forward(intermediate.forward(attentionOutput), attentionOutput); // HF's feed_forward_chunk
        return (layerOutput.MoveToOuterDisposeScope(), probs?.MoveToOuterDisposeScope());
    }
}
