using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertLMHeadModel</c> (transformers 4.4x): a decoder <see cref="BertModel"/> without pooler under
/// <c>bert</c> (causal self-attention, key/value cache, optional cross-attention) and the MLM head under <c>cls</c>,
/// decoder weight tied to the word embeddings; loss = next-token cross-entropy. <see cref="Generate"/> decodes with the cache.
/// HF only warns when <c>is_decoder</c> is false; so does this class (<see cref="Warning"/>): the model is then bidirectional.
/// </summary>
public sealed partial class BertLMHeadModel : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly BertOnlyMLMHead cls;

    /// <summary>A new decoder model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertLMHeadModel(BertConfig config) : base(nameof(BertLMHeadModel), config.Validate())
    {
        if (!config.IsDecoder) Warning = "If you want to use `BertLMHeadModel` as a standalone, add `is_decoder=True.`";
        bert = new BertModel(config, addPoolingLayer: false, initWeights: false);
        cls = new BertOnlyMLMHead(config, config.TieWordEmbeddings ? () => bert.Embeddings.WordEmbeddingWeight : null);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder used as a decoder (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The language-model head (<c>cls</c>).</summary>
    public BertOnlyMLMHead Cls => cls;

    /// <summary>HF's construction warning (config not a decoder), or null.</summary>
    public string? Warning { get; }

    /// <summary>HF: <c>_tied_weights_keys</c> = the decoder; <c>_keys_to_ignore_on_load_unexpected</c> = [r"pooler"].</summary>
    public override LoadingPolicy LoadingPolicy => Config.TieWordEmbeddings ? Tied : Untied;

    private static readonly LoadingPolicy Tied = new() { TiedWeights = LoadingPolicy.TiedMlmDecoder, KeysToIgnoreOnLoadUnexpected = LoadingPolicy.IgnorePooler };
    private static readonly LoadingPolicy Untied = Tied with { TiedWeights = LoadingPolicy.TiedMlmDecoderBias };

    /// <summary>The decoder class: is_decoder / add_cross_attention configs are what it runs.</summary>
    protected internal override bool HonorsDecoderConfig => true;

    /// <inheritdoc/>
    protected override void InitHeadExtras() => cls.Predictions.InitExtras(Config.InitializerRange);

    /// <summary>
    /// HF's <c>BertLMHeadModel.forward</c>: the <see cref="BertModel.forward"/> inputs, then <paramref name="labels"/>
    /// (B, T) int64 token ids with -100 ignored — the loss compares the logits at position t with the label at t + 1 — and
    /// the flags. With labels no cache is kept (HF sets use_cache = False).
    /// </summary>
    public CausalLMOutputWithCrossAttentions forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? labels = null, bool outputHiddenStates = false, bool outputAttentions = false,
        Tensor? encoderHiddenStates = null, Tensor? encoderAttentionMask = null, BertCache? pastKeyValues = null, bool? useCache = null)
    {
        if (labels is not null)
        {
            HeadLosses.ClassIndices(labels, "labels", [inputIds.shape], Config.VocabSize, "vocab_size");
            useCache = false;
        }
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions,
            skipPadding: false, encoderHiddenStates, encoderAttentionMask, pastKeyValues, useCache);
        try
        {
            var logits = cls.forward(o.LastHiddenState);                                       // (B, T, vocab)
            var loss = labels is null ? null : NextTokenLoss(logits, labels);
            var result = new CausalLMOutputWithCrossAttentions(loss, logits, o.TakePastKeyValues(), o.HiddenStates, o.Attentions, o.CrossAttentions);
            return result.MoveOut<CausalLMOutputWithCrossAttentions>();
        }
        finally
        {
            o.TakePastKeyValues()?.Dispose(); // only on failure: the result took it otherwise
        }
    }

    /// <summary>HF's causal LM loss: cross-entropy of logits[:, :-1] against labels[:, 1:], mean over labels that are not -100, in float32.</summary>
    private static Tensor NextTokenLoss(Tensor logits, Tensor labels) =>
        HeadLosses.CrossEntropy(logits[.., ..^1, ..].to(float32), labels[.., 1..].to(logits.device));

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        if (Config.AddCrossAttention) inputs.AcceptOnly(this, "labels", "encoder_hidden_states", "encoder_attention_mask");
        else inputs.AcceptOnly(this, "labels");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.Labels,
            inputs.OutputHiddenStates, inputs.OutputAttentions, inputs.EncoderHiddenStates, inputs.EncoderAttentionMask);
    }
}
