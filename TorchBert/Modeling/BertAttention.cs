using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertAttention</c>: self-attention (eager or SDPA, chosen by
/// <see cref="BertConfig.AttnImplementation"/> as HF's <c>BERT_SELF_ATTENTION_CLASSES</c> table does) then <see cref="BertSelfOutput"/>.
/// </summary>
public sealed class BertAttention : nn.Module
{
    private readonly BertSelfAttention self;
    private readonly BertSelfOutput output;

    public BertAttention(BertConfig config) : base(nameof(BertAttention))
    {
        self = config.AttnImplementation == AttentionImplementation.Sdpa
            ? new BertSdpaSelfAttention(config)
            : new BertSelfAttention(config);
        output = new BertSelfOutput(config);
        RegisterComponents();
    }

    public BertSelfAttention Self => self;
    public BertSelfOutput Output => output;

    /// <returns>attention output (B, T, H) — (N, H) when <paramref name="packed"/> — and, when asked, probabilities (B, nh, T, T).</returns>
    public (Tensor Output, Tensor? Probs) forward(Tensor hiddenStates, Tensor? attentionMask = null, bool outputAttentions = false,
        PackedTokens? packed = null)
    {
        using var scope = NewDisposeScope();
        var (context, probs) = self.forward(hiddenStates, attentionMask, outputAttentions, packed);
        var result = output.forward(context, hiddenStates);
        return (result.MoveToOuterDisposeScope(), probs?.MoveToOuterDisposeScope());
    }
}
