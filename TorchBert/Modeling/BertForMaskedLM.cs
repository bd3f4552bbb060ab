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
        cls = new BertOnlyMLMHead(config);
        RegisterComponents();
        TieWeights();
        if (!SkipInit) InitWeights();
    }

    public BertModel Bert => bert;
    public BertOnlyMLMHead Cls => cls;

    /// <summary>Loads a HF or converted model folder (see <see cref="Pretrained.Load{T}"/>).</summary>
    //PENDING public static BertForMaskedLM FromPretrained(string path, PretrainedOptions? options = null) =>
    //PENDING     Pretrained.Load(path, options, (c, _) => new BertForMaskedLM(c));

    /// <summary>HF <c>tie_weights</c>: the decoder shares the word-embedding matrix.</summary>
    public void TieWeights()
    {
        // TorchSharp's setters dispose the parameter they replace: only assign when it is a different one.
        var decoder = cls.Predictions.Decoder;
        if (!ReferenceEquals(decoder.weight, bert.Embeddings.WordEmbeddingWeight)) decoder.weight = bert.Embeddings.WordEmbeddingWeight;
        if (!ReferenceEquals(decoder.bias, cls.Predictions.Bias)) decoder.bias = cls.Predictions.Bias;
    }

    protected override void InitHeadExtras()
    {
        using var noGrad = no_grad();
        cls.Predictions.Bias.zero_();
    }

    // Moving parameters replaces them; re-tie afterwards, as PyTorch's in-place _apply keeps ties.
    protected override nn.Module _to(Device device, ScalarType dtype, bool nonBlocking) => Retie(base._to(device, dtype, nonBlocking));
    protected override nn.Module _to(DeviceType deviceType, int deviceIndex, bool nonBlocking) => Retie(base._to(deviceType, deviceIndex, nonBlocking));
    protected override nn.Module _to(ScalarType dtype, bool nonBlocking) => Retie(base._to(dtype, nonBlocking));

    private nn.Module Retie(nn.Module m)
    {
        TieWeights();
        return m;
    }

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; returns (B, T, vocab) logits.</summary>
    public MaskedLMOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, bool outputHiddenStates = false, bool outputAttentions = false)
    {
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions);
        var logits = cls.forward(o.LastHiddenState);
        var result = new MaskedLMOutput(logits, o.LastHiddenState, o.HiddenStates, o.Attentions);
        foreach (var t in new[] { logits, o.LastHiddenState }.Concat(o.HiddenStates ?? []).Concat(o.Attentions ?? []))
            t.MoveToOuterDisposeScope();
        return result;
    }
}
