using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertLMPredictionHead</c>: transform, then the decoder (H → vocab). As in HF the decoder weight is tied to
/// the word embeddings (<see cref="BertForMaskedLM"/> ties it) and <c>decoder.bias</c> is the same parameter as <c>bias</c>.
/// </summary>
public sealed class BertLMPredictionHead : nn.Module<Tensor, Tensor>
{
    private readonly BertPredictionHeadTransform transform;
    private readonly Linear decoder;
    private readonly Parameter bias;

    public BertLMPredictionHead(BertConfig config) : base(nameof(BertLMPredictionHead))
    {
        transform = new BertPredictionHeadTransform(config);
        decoder = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        bias = new Parameter(zeros(config.VocabSize));
        RegisterComponents();
        decoder.bias = bias; // HF: self.decoder.bias = self.bias
    }

    public BertPredictionHeadTransform Transform => transform;
    public Linear Decoder => decoder;
    public Parameter Bias => bias;

    /// <summary>(B, T, H) → (B, T, vocab).</summary>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        return decoder.forward(transform.forward(hiddenStates)).MoveToOuterDisposeScope();
    }
}

/// <summary>Port of HF <c>BertOnlyMLMHead</c>: the MLM head under the key <c>cls.predictions</c>.</summary>
public sealed class BertOnlyMLMHead : nn.Module<Tensor, Tensor>
{
    private readonly BertLMPredictionHead predictions;

    public BertOnlyMLMHead(BertConfig config) : base(nameof(BertOnlyMLMHead))
    {
        predictions = new BertLMPredictionHead(config);
        RegisterComponents();
    }

    public BertLMPredictionHead Predictions => predictions;

    public override Tensor forward(Tensor sequenceOutput) => predictions.forward(sequenceOutput);
}
