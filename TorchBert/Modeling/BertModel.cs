using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertModel</c>: embeddings → encoder → optional pooler. With <see cref="BertConfig.IsDecoder"/> it is HF's
/// decoder: causal self-attention, a key/value cache (<see cref="BertCache"/>) and, with
/// <see cref="BertConfig.AddCrossAttention"/>, cross-attention over <c>encoder_hidden_states</c>.
/// </summary>
public sealed class BertModel : BertPreTrainedModel
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler? pooler;

    /// <summary>A new encoder (random weights) for <paramref name="config"/>, with the pooler unless <paramref name="addPoolingLayer"/> is false.</summary>
    public BertModel(BertConfig config, bool addPoolingLayer = true) : this(config, addPoolingLayer, initWeights: true) { }

    internal BertModel(BertConfig config, bool addPoolingLayer, bool initWeights) : base(nameof(BertModel), config.Validate())
    {
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config);
        pooler = addPoolingLayer ? new BertPooler(config) : null;
        RegisterComponents();
        if (initWeights && !SkipInit) InitWeights();
    }

    /// <summary>The embeddings (<c>embeddings</c>).</summary>
    public BertEmbeddings Embeddings => embeddings;
    /// <summary>The layer stack (<c>encoder</c>).</summary>
    public BertEncoder Encoder => encoder;
    /// <summary>The [CLS] pooler (<c>pooler</c>), null when built without it.</summary>
    public BertPooler? Pooler => pooler;

    /// <summary>Whether a checkpoint's tensor names include this class's pooler (<c>pooler.dense.weight</c>, with or without <c>bert.</c>).</summary>
    public static bool CheckpointHasPooler(IEnumerable<string> tensorNames) =>
        tensorNames.Any(n => n is "pooler.dense.weight" or BaseModelPrefix + ".pooler.dense.weight");

    /// <summary>HF's BertModel is also the decoder (causal mask, cache, cross-attention) when the config says so.</summary>
    protected internal override bool HonorsDecoderConfig => true;

    /// <param name="inputIds">(B, T) int64 token ids (for a decoder with a cache: the new tokens only).</param>
    /// <param name="attentionMask">(B, T) 1 = attend, 0 = padding — (B, past + T) with <paramref name="pastKeyValues"/>; all ones when null.</param>
    /// <param name="tokenTypeIds">(B, T) segment ids; zeros when null.</param>
    /// <param name="positionIds">(B, T) positions; past..past+T-1 when null.</param>
    /// <param name="skipPadding">
    /// run the per-token work on the real tokens only (<see cref="PackedTokens"/>; CPU masks with padding): same values
    /// on real tokens, zeros instead of HF's values at padded positions of the encoder's outputs, less work for
    /// padded batches. Off by default so that every position matches HF. Ignored by decoders (is_decoder): their causal
    /// masks, caches and cross-attention always run on the padded layout.
    /// </param>
    /// <param name="encoderHiddenStates">decoder with cross-attention: (B, S, H) states to attend to (HF's <c>encoder_hidden_states</c>).</param>
    /// <param name="encoderAttentionMask">(B, S) 1/0 mask over <paramref name="encoderHiddenStates"/>; all ones when null.</param>
    /// <param name="pastKeyValues">decoder: the cache returned by the previous call (read, not consumed: still the caller's to dispose).</param>
    /// <param name="useCache">decoder: return a new cache in <c>PastKeyValues</c>; null = <see cref="BertConfig.UseCache"/>.
    /// Encoders never keep one (HF sets use_cache = False there).</param>
    public BertModelOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, bool outputHiddenStates = false, bool outputAttentions = false, bool skipPadding = false,
        Tensor? encoderHiddenStates = null, Tensor? encoderAttentionMask = null, BertCache? pastKeyValues = null, bool? useCache = null)
    {
        var decoder = Config.IsDecoder;
        var keepCache = decoder && (useCache ?? Config.UseCache);
        long past = pastKeyValues is null ? 0 : DecoderInputs.PastLength(pastKeyValues);
        InputValidation.Check(Config, inputIds, past == 0 ? attentionMask : null, tokenTypeIds, positionIds);
        DecoderInputs.Check(Config, inputIds, attentionMask, positionIds, encoderHiddenStates, encoderAttentionMask, pastKeyValues);
        using var scope = NewDisposeScope();
        long batch = inputIds.shape[0], length = inputIds.shape[1];
        var embeddingOutput = embeddings.forward(inputIds, tokenTypeIds, positionIds, past);     // (B, T, H)
        var dtype = embeddingOutput.dtype;
        if (encoderHiddenStates is not null && encoderHiddenStates.dtype != dtype)
            throw new ArgumentException($"encoder_hidden_states has dtype {encoderHiddenStates.dtype} but the model computes in {dtype}", nameof(encoderHiddenStates));
        var extendedMask = GetExtendedAttentionMask(attentionMask, length, past, dtype, outputAttentions, out var isCausal);
        var encoderExtendedMask = encoderHiddenStates is null || encoderAttentionMask is null || AttentionMasks.AttendsEverywhere(encoderAttentionMask)
            ? null
            : AttentionMasks.Extended(encoderAttentionMask, dtype);                              // (B, 1, 1, S): HF's invert_attention_mask
        var packed = skipPadding && !decoder && extendedMask is not null ? PackedTokens.FromMask(attentionMask) : null;
        var present = keepCache ? new BertCache(Config.NumHiddenLayers) : null;
        try
        {
            var context = new AttentionContext
            {
                Mask = extendedMask, IsCausal = isCausal, Packed = packed, OutputAttentions = outputAttentions,
                EncoderHiddenStates = encoderHiddenStates, EncoderMask = encoderExtendedMask, Past = pastKeyValues, Present = present,
            };
            var (last, hidden, attentions, crossAttentions) = encoder.forward(
                packed?.Pack(embeddingOutput) ?? embeddingOutput, context, outputHiddenStates);  // (B, T, H) or (N, H)
            if (packed is not null)
            {
                last = packed.Unpack(last);                                                     // (B, T, H)
                hidden = hidden?.Select((h, i) => i == 0 ? embeddingOutput : packed.Unpack(h)).ToList();
            }
            var pooled = pooler?.forward(last);                                                 // (B, H)

            var result = new BertModelOutput(last, pooled, hidden, attentions, crossAttentions, present);
            return result.MoveOut<BertModelOutput>();
        }
        catch
        {
            present?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// HF's <c>get_extended_attention_mask</c> and, for SDPA, <c>_prepare_4d_(causal_)attention_mask_for_sdpa</c>: the
    /// additive self-attention mask, or null where none is needed — an encoder whose mask keeps every position; a decoder
    /// on HF's SDPA path with such a mask and no cached prefix (then <paramref name="isCausal"/>) or a single new token.
    /// </summary>
    private Tensor? GetExtendedAttentionMask(Tensor? attentionMask, long length, long past, ScalarType dtype, bool outputAttentions, out bool isCausal)
    {
        isCausal = false;
        var attendsEverywhere = attentionMask is null || AttentionMasks.AttendsEverywhere(attentionMask);
        if (!Config.IsDecoder)
            return attendsEverywhere ? null : AttentionMasks.Extended(attentionMask!, dtype);   // (B, 1, 1, T)
        // HF's use_sdpa_attention_masks: the SDPA kernel will run (it falls back to eager for relative positions and probabilities).
        var sdpaMasks = Config.AttnImplementation == AttentionImplementation.Sdpa
                        && Config.PositionEmbeddingType == PositionEmbeddingType.Absolute && !outputAttentions;
        if (sdpaMasks && attendsEverywhere && (length == 1 || past == 0))
        {
            isCausal = length > 1;
            return null;
        }
        return DecoderAttentionMasks.Extended(attentionMask, length, past, dtype, attentionMask?.device ?? embeddings.WordEmbeddingWeight.device); // (B, 1, T, past + T)
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        if (Config.AddCrossAttention) inputs.AcceptOnly(this, "encoder_hidden_states", "encoder_attention_mask");
        else inputs.AcceptOnly(this);
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, outputHiddenStates: inputs.OutputHiddenStates,
            outputAttentions: inputs.OutputAttentions, encoderHiddenStates: inputs.EncoderHiddenStates, encoderAttentionMask: inputs.EncoderAttentionMask);
    }
}
