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

    public BertForMaskedLM(BertConfig config) : base(nameof(BertForMaskedLM), config.Validate())
    {
        RequireTiedEmbeddings(config, nameof(BertForMaskedLM));
        bert = new BertModel(config, addPoolingLayer: false, initWeights: false);
        cls = new BertOnlyMLMHead(config, () => bert.Embeddings.WordEmbeddingWeight);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    public BertModel Bert => bert;
    public BertOnlyMLMHead Cls => cls;

    /// <summary>HF: <c>_tied_weights_keys</c> = the decoder; <c>_keys_to_ignore_on_load_unexpected</c> = [r"pooler"].</summary>
    public override LoadingPolicy LoadingPolicy { get; } = new()
    {
        TiedWeights = LoadingPolicy.TiedMlmDecoder,
        KeysToIgnoreOnLoadUnexpected = LoadingPolicy.IgnorePooler,
    };

    /// <summary>Loads a HF or converted model folder (see <see cref="Pretrained.Load{T}"/>).</summary>
    public static BertForMaskedLM FromPretrained(string path, PretrainedOptions? options = null) =>
        Pretrained.Load(path, options, (c, _) => new BertForMaskedLM(c));

    /// <summary>TorchBert's MLM decoder is always the word-embedding matrix; refuse a config that says otherwise instead of loading it wrong.</summary>
    internal static void RequireTiedEmbeddings(BertConfig config, string className)
    {
        if (!config.TieWordEmbeddings)
            throw new BertConfigException($"{className}: tie_word_embeddings false (an untied MLM decoder) is not supported; the decoder is the word-embedding matrix");
    }

    protected override void InitHeadExtras()
    {
        using var noGrad = no_grad();
        cls.Predictions.Bias.zero_();
    }

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
}
