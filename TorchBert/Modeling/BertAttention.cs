using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertAttention</c>: self-attention (eager or SDPA, chosen by
/// <see cref="BertConfig.AttnImplementation"/> as HF's <c>BERT_SELF_ATTENTION_CLASSES</c> table does) then <see cref="BertSelfOutput"/>.
/// Also the decoder's <c>crossattention</c> block (<c>isCrossAttention</c>: keys/values from the encoder states).
/// </summary>
public sealed class BertAttention : nn.Module
{
    private readonly BertSelfAttention self;
    private readonly BertSelfOutput output;

    /// <summary>Self-attention (or cross-attention) with its output projection, from <paramref name="config"/>.</summary>
    public BertAttention(BertConfig config, bool isCrossAttention = false) : base(nameof(BertAttention))
    {
        self = config.AttnImplementation == AttentionImplementation.Sdpa
            ? new BertSdpaSelfAttention(config, isCrossAttention)
            : new BertSelfAttention(config, isCrossAttention);
        output = new BertSelfOutput(config);
        RegisterComponents();
    }

    /// <summary>The attention proper (<c>self</c>).</summary>
    public BertSelfAttention Self => self;
    /// <summary>The output projection, dropout and LayerNorm (<c>output</c>).</summary>
    public BertSelfOutput Output => output;

    /// <returns>attention output (B, T, H) — (N, H) when packed — and, when asked, probabilities (B, nh, T, Tk).</returns>
    public (Tensor Output, Tensor? Probs) forward(Tensor hiddenStates, AttentionContext context)
    {
        using var scope = NewDisposeScope();
        var (attended, probs) = self.forward(hiddenStates, context);
        var result = output.forward(attended, hiddenStates);
        return (result.MoveToOuterDisposeScope(), probs?.MoveToOuterDisposeScope());
    }
}
