using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertAttention</c>: self-attention (eager or SDPA, chosen by
/// <see cref="BertConfig.AttnImplementation"/> as HF's <c>BERT_SELF_ATTENTION_CLASSES</c> table does) then <see cref="BertSelfOutput"/>.
/// Also the decoder's <c>crossattention</c> block (<paramref name="isCrossAttention"/>: keys/values from the encoder states).
/// </summary>
public sealed class BertAttention : nn.Module
{
    private readonly BertSelfAttention self;
    private readonly BertSelfOutput output;

    public BertAttention(BertConfig config, bool isCrossAttention = false) : base(nameof(BertAttention))
    {
        self = config.AttnImplementation == AttentionImplementation.Sdpa
            ? new BertSdpaSelfAttention(config, isCrossAttention)
            : new BertSelfAttention(config, isCrossAttention);
        output = new BertSelfOutput(config);
        RegisterComponents();
    }

    public BertSelfAttention Self => self;
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
