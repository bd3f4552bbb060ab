using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertLMPredictionHead</c>: transform, then the decoder (H → vocab). As in HF the decoder weight is the word
/// embedding matrix and <c>decoder.bias</c> is <c>bias</c>; the decoder owns neither (see <see cref="TiedLinear"/>), so
/// moving the model moves each once, and <see cref="BertPreTrainedModel.state_dict"/> lists both keys as PyTorch does.
/// </summary>
public sealed class BertLMPredictionHead : nn.Module<Tensor, Tensor>
{
    private readonly BertPredictionHeadTransform transform;
    private readonly TiedLinear decoder;
    private Parameter bias;

    public BertLMPredictionHead(BertConfig config, Func<Parameter> wordEmbeddings) : base(nameof(BertLMPredictionHead))
    {
        transform = new BertPredictionHeadTransform(config);
        bias = ModuleFactory.Zeros(config.VocabSize);
        decoder = new TiedLinear(config.HiddenSize, config.VocabSize, wordEmbeddings, () => bias);
        RegisterComponents();
    }

    public BertPredictionHeadTransform Transform => transform;
    public TiedLinear Decoder => decoder;
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

    public BertOnlyMLMHead(BertConfig config, Func<Parameter> wordEmbeddings) : base(nameof(BertOnlyMLMHead))
    {
        predictions = new BertLMPredictionHead(config, wordEmbeddings);
        RegisterComponents();
    }

    public BertLMPredictionHead Predictions => predictions;

    public override Tensor forward(Tensor sequenceOutput) => predictions.forward(sequenceOutput);
}

/// <summary>
/// A Linear layer whose weight and bias belong to other modules (HF's tied decoder). It registers no parameters and reads
/// the owners' current ones at each call, so ties survive <c>.to(device)</c>. Prints as PyTorch prints the Linear it stands for.
/// </summary>
public sealed class TiedLinear(long inFeatures, long outFeatures, Func<Parameter> weight, Func<Parameter?> bias)
    : nn.Module<Tensor, Tensor>("Linear")
{
    public long in_features { get; } = inFeatures;
    public long out_features { get; } = outFeatures;
    public Parameter weight => weight();
    public Parameter? bias => bias();

    public override Tensor forward(Tensor x) => nn.functional.linear(x, weight, bias);
}
