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
        bert = new BertModel(config, addPoolingLayer: false, initWeights: false);
        cls = new BertOnlyMLMHead(config, () => bert.Embeddings.WordEmbeddingWeight);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    public BertModel Bert => bert;
    public BertOnlyMLMHead Cls => cls;

    /// <summary>Loads a HF or converted model folder (see <see cref="Pretrained.Load{T}"/>).</summary>
    public static BertForMaskedLM FromPretrained(string path, PretrainedOptions? options = null) =>
        Pretrained.Load(path, options, (c, _) => new BertForMaskedLM(c));

    /// <summary><see cref="FromPretrained"/> with the Hub download (if any) done asynchronously and cancellable.</summary>
    public static async Task<BertForMaskedLM> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
        FromPretrained(await Hub.ModelLocator.ResolveAsync(pathOrId, options?.Revision, null, ct).ConfigureAwait(false), options);

    protected override void InitHeadExtras()
    {
        using var noGrad = no_grad();
        cls.Predictions.Bias.zero_();
    }

    /// <summary>
    /// PyTorch's state dict of a tied model: every parameter once under its owner's key, plus the tied aliases
    /// <c>cls.predictions.decoder.weight</c> (= word embeddings) and <c>cls.predictions.decoder.bias</c> (= <c>cls.predictions.bias</c>).
    /// </summary>
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null)
    {
        var result = base.state_dict(destination, prefix);
        var p = string.IsNullOrEmpty(prefix) ? "" : prefix + ".";
        result.TryAdd(p + "cls.predictions.decoder.weight", cls.Predictions.Decoder.weight);
        result.TryAdd(p + "cls.predictions.decoder.bias", cls.Predictions.Bias);
        return result;
    }

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; returns (B, T, vocab) logits.</summary>
    public MaskedLMOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, bool outputHiddenStates = false, bool outputAttentions = false, bool skipPadding = false)
    {
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions, skipPadding);
        var logits = cls.forward(o.LastHiddenState);
        var result = new MaskedLMOutput(logits, o.LastHiddenState, o.HiddenStates, o.Attentions);
        foreach (var t in new[] { logits, o.LastHiddenState }.Concat(o.HiddenStates ?? []).Concat(o.Attentions ?? []))
            t.MoveToOuterDisposeScope();
        return result;
    }
}
