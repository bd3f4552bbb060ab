using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertForNextSentencePrediction</c> (modeling_bert.py, transformers 4.4x): BertModel with pooler under
/// <c>bert</c>, <see cref="BertOnlyNSPHead"/> under <c>cls</c>.
/// </summary>
public sealed class BertForNextSentencePrediction : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly BertOnlyNSPHead cls;

    /// <summary>A new model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertForNextSentencePrediction(BertConfig config) : base(nameof(BertForNextSentencePrediction), config.Validate())
    {
        bert = new BertModel(config, addPoolingLayer: true, initWeights: false);
        cls = new BertOnlyNSPHead(config);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The next-sentence head (<c>cls</c>).</summary>
    public BertOnlyNSPHead Cls => cls;

    /// <summary>A missing pooler (e.g. from an MLM checkpoint) is initialised, as HF does.</summary>
    public override LoadingPolicy LoadingPolicy { get; } = new() { NewlyInitializedIfMissing = LoadingPolicy.InitPoolerIfMissing };

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; (B, 2) logits.</summary>
    /// <param name="labels">(B) 0 = sentence B continues sentence A, 1 = B is a random sentence.</param>
    public NextSentencePredictorOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? labels = null, bool outputHiddenStates = false, bool outputAttentions = false,
        bool skipPadding = false)
    {
        if (labels is not null) HeadLosses.ClassIndices(labels, "labels", [[inputIds.shape[0]], [inputIds.shape[0], 1]], 2, "next sentence classes");
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions, skipPadding);
        var logits = cls.forward(o.PoolerOutput!);                                              // (B, 2)
        var loss = labels is null ? null : HeadLosses.CrossEntropy(logits, labels);
        return new NextSentencePredictorOutput(logits, loss, o.HiddenStates, o.Attentions).MoveOut<NextSentencePredictorOutput>();
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this, "labels");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.Labels, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
