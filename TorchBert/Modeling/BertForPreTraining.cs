using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertForPreTraining</c> (modeling_bert.py, transformers 4.4x): BertModel with pooler under <c>bert</c>,
/// <see cref="BertPreTrainingHeads"/> (MLM + NSP) under <c>cls</c>; the MLM decoder is tied to the word embeddings.
/// </summary>
public sealed class BertForPreTraining : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly BertPreTrainingHeads cls;

    /// <summary>A new model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertForPreTraining(BertConfig config) : base(nameof(BertForPreTraining), config.Validate())
    {
        bert = new BertModel(config, addPoolingLayer: true, initWeights: false);
        cls = new BertPreTrainingHeads(config, config.TieWordEmbeddings ? () => bert.Embeddings.WordEmbeddingWeight : null);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The masked-LM and next-sentence heads (<c>cls</c>).</summary>
    public BertPreTrainingHeads Cls => cls;

    /// <summary>HF: <c>_tied_weights_keys</c> = the decoder; a missing pooler is initialised.</summary>
    public override LoadingPolicy LoadingPolicy => Config.TieWordEmbeddings ? Tied : Untied;

    private static readonly LoadingPolicy Tied = new() { TiedWeights = LoadingPolicy.TiedMlmDecoder, NewlyInitializedIfMissing = LoadingPolicy.InitPoolerIfMissing };
    private static readonly LoadingPolicy Untied = Tied with { TiedWeights = LoadingPolicy.TiedMlmDecoderBias };

    /// <inheritdoc/>
    protected override void InitHeadExtras() => cls.Predictions.InitExtras(Config.InitializerRange);

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; MLM and NSP scores.</summary>
    /// <param name="labels">(B, T) MLM targets, -100 where no loss is wanted.</param>
    /// <param name="nextSentenceLabel">(B) 0 = continuation, 1 = random. HF computes the loss (MLM + NSP) only when both are given.</param>
    public BertForPreTrainingOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? labels = null, Tensor? nextSentenceLabel = null,
        bool outputHiddenStates = false, bool outputAttentions = false, bool skipPadding = false)
    {
        if (labels is not null) HeadLosses.ClassIndices(labels, "labels", [inputIds.shape], Config.VocabSize, "vocab_size");
        if (nextSentenceLabel is not null)
            HeadLosses.ClassIndices(nextSentenceLabel, "next_sentence_label", [[inputIds.shape[0]], [inputIds.shape[0], 1]], 2, "next sentence classes");
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions, skipPadding);
        var (prediction, seqRelationship) = cls.forward(o.LastHiddenState, o.PoolerOutput!);    // (B, T, vocab), (B, 2)
        var loss = labels is not null && nextSentenceLabel is not null
            ? HeadLosses.CrossEntropy(prediction, labels).Plus(HeadLosses.CrossEntropy(seqRelationship, nextSentenceLabel))
            : null;
        return new BertForPreTrainingOutput(prediction, seqRelationship, loss, o.HiddenStates, o.Attentions).MoveOut<BertForPreTrainingOutput>();
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this, "labels", "next_sentence_label");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.Labels, inputs.NextSentenceLabel, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
