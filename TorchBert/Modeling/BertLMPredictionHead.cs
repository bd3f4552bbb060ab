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

    /// <param name="wordEmbeddings">the tied decoder weight; null (HF's <c>tie_word_embeddings: false</c>) = the decoder owns its weight.</param>
    public BertLMPredictionHead(BertConfig config, Func<Parameter>? wordEmbeddings) : base(nameof(BertLMPredictionHead))
    {
        transform = new BertPredictionHeadTransform(config);
        bias = ModuleFactory.Zeros(config.VocabSize);
        decoder = wordEmbeddings is null
            ? TiedLinear.WithOwnWeight(config.HiddenSize, config.VocabSize, () => bias)
            : new TiedLinear(config.HiddenSize, config.VocabSize, wordEmbeddings, () => bias);
        RegisterComponents();
    }

    /// <summary>Dense + activation + LayerNorm before the vocabulary projection (<c>transform</c>).</summary>
    public BertPredictionHeadTransform Transform => transform;
    /// <summary>The vocabulary projection, tied to the word embeddings when the model ties them (<c>decoder</c>).</summary>
    public TiedLinear Decoder => decoder;
    /// <summary>The per-token output bias (<c>bias</c>).</summary>
    public Parameter Bias => bias;

    /// <summary>HF's init of what Linear/Embedding init doesn't cover: the output bias 0, an untied decoder weight ~ N(0, std).</summary>
    internal void InitExtras(double std)
    {
        using var noGrad = no_grad();
        bias.zero_();
        if (decoder.OwnsWeight) nn.init.normal_(decoder.weight, 0, std);
    }

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

    /// <summary>The masked-LM head; <paramref name="wordEmbeddings"/> supplies the tied decoder weight (null: an own weight).</summary>
    public BertOnlyMLMHead(BertConfig config, Func<Parameter>? wordEmbeddings) : base(nameof(BertOnlyMLMHead))
    {
        predictions = new BertLMPredictionHead(config, wordEmbeddings);
        RegisterComponents();
    }

    /// <summary>The prediction head (<c>predictions</c>).</summary>
    public BertLMPredictionHead Predictions => predictions;

    /// <inheritdoc/>
    public override Tensor forward(Tensor sequenceOutput) => predictions.forward(sequenceOutput);
}

/// <summary>
/// A Linear layer whose weight and bias belong to other modules (HF's tied decoder). It registers no parameters and reads
/// the owners' current ones at each call, so ties survive <c>.to(device)</c>. Prints as PyTorch prints the Linear it stands for.
/// With <see cref="WithOwnWeight"/> (HF's <c>tie_word_embeddings: false</c>) it registers its own <c>weight</c>; the bias stays tied.
/// </summary>
public sealed class TiedLinear(long inFeatures, long outFeatures, Func<Parameter> weight, Func<Parameter?> bias)
    : nn.Module<Tensor, Tensor>("Linear")
{
    private Func<Parameter> weightSource = weight;

    /// <summary>Input width (hidden size).</summary>
    public long in_features { get; } = inFeatures;
    /// <summary>Output width (vocabulary size).</summary>
    public long out_features { get; } = outFeatures;
    /// <summary>The weight, read from its source on every use (the word embeddings when tied).</summary>
    public Parameter weight => weightSource();
    /// <summary>The bias, if any.</summary>
    public Parameter? bias => bias();

    /// <summary>Whether the weight is this module's own parameter (an untied decoder).</summary>
    public bool OwnsWeight { get; private set; }

    /// <summary>A decoder with its own (out, in) weight, registered as <c>weight</c>, and a tied bias.</summary>
    public static TiedLinear WithOwnWeight(long inFeatures, long outFeatures, Func<Parameter?> bias)
    {
        var linear = new TiedLinear(inFeatures, outFeatures, null!, bias) { OwnsWeight = true };
        linear.register_parameter("weight", ModuleFactory.Empty(outFeatures, inFeatures));
        linear.weightSource = () => linear.get_parameter("weight")!;
        return linear;
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => nn.functional.linear(x, weight, bias);
}
