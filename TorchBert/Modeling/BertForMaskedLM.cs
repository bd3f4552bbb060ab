using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertForMaskedLM</c>: <see cref="BertModel"/> without pooler under <c>bert</c>, MLM head under <c>cls</c>,
/// decoder weight tied to the word embeddings.
/// </summary>
public sealed class BertForMaskedLM : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly BertOnlyMLMHead cls;

    /// <summary>A new model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertForMaskedLM(BertConfig config) : base(nameof(BertForMaskedLM), config.Validate())
    {
        bert = new BertModel(config, addPoolingLayer: false, initWeights: false);
        cls = new BertOnlyMLMHead(config, config.TieWordEmbeddings ? () => bert.Embeddings.WordEmbeddingWeight : null);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The masked-LM head (<c>cls</c>).</summary>
    public BertOnlyMLMHead Cls => cls;

    /// <summary>HF: <c>_tied_weights_keys</c> = the decoder; <c>_keys_to_ignore_on_load_unexpected</c> = [r"pooler"].</summary>
    public override LoadingPolicy LoadingPolicy => Config.TieWordEmbeddings ? Tied : Untied;

    private static readonly LoadingPolicy Tied = new() { TiedWeights = LoadingPolicy.TiedMlmDecoder, KeysToIgnoreOnLoadUnexpected = LoadingPolicy.IgnorePooler };
    private static readonly LoadingPolicy Untied = Tied with { TiedWeights = LoadingPolicy.TiedMlmDecoderBias };

    /// <inheritdoc/>
    protected override void InitHeadExtras() => cls.Predictions.InitExtras(Config.InitializerRange);

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; returns (B, T, vocab) logits.</summary>
    /// <param name="labels">(B, T) token ids to predict, -100 where no loss is wanted (HF: the unmasked positions).</param>
    public MaskedLMOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? labels = null, bool outputHiddenStates = false, bool outputAttentions = false,
        bool skipPadding = false)
    {
        if (labels is not null)
            HeadLosses.ClassIndices(labels, "labels", [inputIds.shape], Config.VocabSize, "vocab_size");
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions, skipPadding);
        var logits = cls.forward(o.LastHiddenState);                                          // (B, T, vocab)
        var loss = labels is null ? null : HeadLosses.CrossEntropy(logits, labels);
        return new MaskedLMOutput(logits, o.LastHiddenState, o.HiddenStates, o.Attentions, loss).MoveOut<MaskedLMOutput>();
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this, "labels");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.Labels, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
