using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertModel</c> (encoder-only): embeddings → encoder → optional pooler.
/// </summary>
public sealed class BertModel : BertPreTrainedModel
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler? pooler;

    public BertModel(BertConfig config, bool addPoolingLayer = true) : this(config, addPoolingLayer, initWeights: true) { }

    internal BertModel(BertConfig config, bool addPoolingLayer, bool initWeights) : base(nameof(BertModel), config.Validate())
    {
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config);
        pooler = addPoolingLayer ? new BertPooler(config) : null;
        RegisterComponents();
        if (initWeights && !SkipInit) InitWeights();
    }

    public BertEmbeddings Embeddings => embeddings;
    public BertEncoder Encoder => encoder;
    public BertPooler? Pooler => pooler;

    /// <summary>
    /// Loads a HF or converted model folder (see <see cref="Pretrained.Load{T}"/>). BertModel's own loading rule: it has a
    /// pooler when the checkpoint has one (an MLM checkpoint has none, and none is invented); a head checkpoint's head
    /// keys are reported as ignored.
    /// </summary>
    public static BertModel FromPretrained(string path, PretrainedOptions? options = null) =>
        Pretrained.Load(path, options, (c, keys) => new BertModel(c, CheckpointHasPooler(keys)));

    /// <summary>Whether a checkpoint's tensor names include this class's pooler (<c>pooler.dense.weight</c>, with or without <c>bert.</c>).</summary>
    public static bool CheckpointHasPooler(IEnumerable<string> tensorNames) =>
        tensorNames.Any(n => n is "pooler.dense.weight" or BaseModelPrefix + ".pooler.dense.weight");

    /// <param name="inputIds">(B, T) int64 token ids.</param>
    /// <param name="attentionMask">(B, T) 1 = attend, 0 = padding; all ones when null.</param>
    /// <param name="tokenTypeIds">(B, T) segment ids; zeros when null.</param>
    /// <param name="positionIds">(B, T) positions; 0..T-1 when null.</param>
    /// <param name="skipPadding">
    /// run the per-token work on the real tokens only (<see cref="PackedTokens"/>; CPU masks with padding): same values
    /// on real tokens, zeros instead of HF's values at padded positions of the encoder's outputs, less work for
    /// padded batches. Off by default so that every position matches HF.
    /// </param>
    public BertModelOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, bool outputHiddenStates = false, bool outputAttentions = false, bool skipPadding = false)
    {
        InputValidation.Check(Config, inputIds, attentionMask, tokenTypeIds, positionIds);
        using var scope = NewDisposeScope();
        var embeddingOutput = embeddings.forward(inputIds, tokenTypeIds, positionIds);          // (B, T, H)
        var extendedMask = attentionMask is null || AttentionMasks.AttendsEverywhere(attentionMask)
            ? null
            : AttentionMasks.Extended(attentionMask, embeddingOutput.dtype);                    // (B, 1, 1, T)
        var packed = skipPadding && extendedMask is not null ? PackedTokens.FromMask(attentionMask) : null;
        var (last, hidden, attentions) = encoder.forward(packed?.Pack(embeddingOutput) ?? embeddingOutput,
            extendedMask, outputHiddenStates, outputAttentions, packed);                        // (B, T, H) or (N, H)
        if (packed is not null)
        {
            last = packed.Unpack(last);                                                         // (B, T, H)
            hidden = hidden?.Select((h, i) => i == 0 ? embeddingOutput : packed.Unpack(h)).ToList();
        }
        var pooled = pooler?.forward(last);                                                     // (B, H)

        var result = new BertModelOutput(last, pooled, hidden, attentions);
        foreach (var t in result.All()) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this);
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
