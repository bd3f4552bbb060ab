using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertSelfAttention</c> (eager, transformers 4.4x): softmax(QKᵀ/√d + mask)·V, with HF's relative_key and
/// relative_key_query position scores. As the block under <c>crossattention</c> (<c>isCrossAttention</c>) the
/// keys and values come from the encoder states and the mask is the encoder mask. With a cache, keys/values of the
/// tokens seen before are prepended (self) or reused (cross), and the full ones are stored in the context's
/// <see cref="AttentionContext.Present"/>. Returns the context (B, T, H) and, when asked, the probabilities (B, nh, T, Tk).
/// </summary>
public class BertSelfAttention : nn.Module, IFastLinearOwner
{
    /// <summary>Query projection (<c>query</c>).</summary>
    protected readonly Linear query;
    /// <summary>Key projection (<c>key</c>).</summary>
    protected readonly Linear key;
    /// <summary>Value projection (<c>value</c>).</summary>
    protected readonly Linear value;
    /// <summary>Dropout on the attention probabilities.</summary>
    protected readonly Dropout dropout;
    private readonly Embedding? distance_embedding;
    /// <summary>Number of attention heads.</summary>
    protected readonly int numHeads;
    /// <summary>Width of one head.</summary>
    protected readonly int headSize;
    /// <summary>How positions enter attention.</summary>
    protected readonly PositionEmbeddingType positionEmbeddingType;
    /// <summary>True for cross-attention (keys and values from the encoder).</summary>
    protected readonly bool isCrossAttention;
    private readonly int maxPositionEmbeddings;
    private readonly FastLinears? fastQuery;    // cross-attention: the query alone
    private readonly FastLinears? fastKeyValue; // cross-attention: key and value over the encoder states
    private readonly FastLinears? fastQkv;      // self-attention: query, key and value in one product

    /// <summary>Multi-head self-attention (or cross-attention), from <paramref name="config"/>.</summary>
    public BertSelfAttention(BertConfig config, bool isCrossAttention = false) : this(config, isCrossAttention, nameof(BertSelfAttention)) { }

    /// <summary>For subclasses (the fused and SDPA variants): the same parameters under module name <paramref name="name"/>.</summary>
    protected BertSelfAttention(BertConfig config, bool isCrossAttention, string name) : base(name)
    {
        numHeads = config.NumAttentionHeads;
        headSize = config.HeadSize;
        query = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        key = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        value = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        dropout = nn.Dropout(config.AttentionProbsDropoutProb);
        this.isCrossAttention = isCrossAttention;
        // HF builds crossattention with position_embedding_type="absolute": no distance embedding there.
        positionEmbeddingType = isCrossAttention ? PositionEmbeddingType.Absolute : config.PositionEmbeddingType;
        maxPositionEmbeddings = config.MaxPositionEmbeddings;
        if (positionEmbeddingType != PositionEmbeddingType.Absolute)
            distance_embedding = ModuleFactory.Embedding(2 * config.MaxPositionEmbeddings - 1, headSize);
        if (isCrossAttention) (fastQuery, fastKeyValue) = (new FastLinears(query), new FastLinears(key, value));
        else fastQkv = new FastLinears(query, key, value);
        RegisterComponents();
    }

    IEnumerable<FastLinears> IFastLinearOwner.FastLinearGroups =>
        new[] { fastQuery, fastKeyValue, fastQkv }.Where(g => g is not null)!;

    /// <summary>Whether this is the <c>crossattention</c> block (keys/values from the encoder states).</summary>
    public bool IsCrossAttention => isCrossAttention;

    /// <summary>(B, T, H) → (B, nh, T, hs).</summary>
    protected Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], numHeads, headSize).permute(0, 2, 1, 3);

    /// <summary>(B, nh, T, hs) → (B, T, H).</summary>
    protected Tensor MergeHeads(Tensor x) => x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], numHeads * headSize);

    /// <param name="hiddenStates">(B, T, H), or the packed (N, H) real tokens when <see cref="AttentionContext.Packed"/> is set.</param>
    /// <param name="context">mask, encoder states, cache, flags and layer index of this forward.</param>
    public virtual (Tensor Context, Tensor? Probs) forward(Tensor hiddenStates, AttentionContext context)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Projections(hiddenStates, context);               // q (B, nh, T, hs); k, v (B, nh, Tk, hs)

        var scores = matmul(q, k.transpose(-1, -2));                      // (B, nh, T, Tk)
        if (distance_embedding is not null) scores = scores.Plus(RelativePositionScores(q, k, usesCache: context.Past is not null));
        scores = scores.Over(Math.Sqrt(headSize));
        if (MaskFor(context, q, k) is { } mask) scores = scores.Plus(mask);

        var probs = nn.functional.softmax(scores, dim: -1);               // (B, nh, T, Tk)
        var result = MergeHeads(matmul(dropout.forward(probs), v));       // (B, T, H)
        if (context.Packed is not null) result = context.Packed.Pack(result); // (N, H)
        return (result.MoveToOuterDisposeScope(), context.OutputAttentions ? probs.MoveToOuterDisposeScope() : null);
    }

    /// <summary>The additive mask this block applies: the encoder mask for cross-attention, else the self mask, or a causal
    /// one built here when the context asks for causal attention without a mask (SDPA's is_causal has no eager counterpart).</summary>
    private Tensor? MaskFor(AttentionContext context, Tensor q, Tensor k)
    {
        if (isCrossAttention) return context.EncoderMask;
        if (context.Mask is null && context.IsCausal && q.shape[2] > 1)
            return DecoderAttentionMasks.Extended(null, q.shape[2], k.shape[2] - q.shape[2], q.dtype, q.device);
        return context.Mask;
    }

    /// <summary>
    /// Q (B, nh, T, hs) and K, V (B, nh, Tk, hs), as HF: self-attention projects the hidden states (from packed (N, H) rows
    /// they are projected, then unpacked) and prepends the cached keys/values; cross-attention projects the encoder states,
    /// or reuses the cached cross keys/values. The full K, V are stored in <see cref="AttentionContext.Present"/> when set.
    /// </summary>
    protected (Tensor Q, Tensor K, Tensor V) Projections(Tensor hiddenStates, AttentionContext context)
    {
        Tensor Heads(Tensor y, PackedTokens? packed) => SplitHeads(packed is null ? y : packed.Unpack(y));
        Tensor Project(Linear linear, Tensor x, PackedTokens? packed) => Heads(linear.forward(x), packed);
        var i = context.LayerIndex;
        var past = context.Past;
        var hidden = query.out_features;
        Tensor q, k, v;
        if (isCrossAttention)
        {
            q = fastQuery!.TryForward(this, hiddenStates) is { } fq ? Heads(fq, context.Packed) : Project(query, hiddenStates, context.Packed);
            if (past?.CrossKey(i) is { } pastKey) (k, v) = (pastKey, past.CrossValue(i)!); // (B, nh, S, hs), computed at the first step
            else
            {
                var encoder = context.EncoderHiddenStates
                              ?? throw new ArgumentException("cross-attention needs encoder_hidden_states", nameof(context));
                if (fastKeyValue!.TryForward(this, encoder) is { } kv)
                {
                    var parts = kv.split([hidden, hidden], -1);
                    (k, v) = (Heads(parts[0], null), Heads(parts[1], null));                  // (B, nh, S, hs)
                }
                else (k, v) = (Project(key, encoder, null), Project(value, encoder, null));   // (B, nh, S, hs)
            }
        }
        else
        {
            if (fastQkv!.TryForward(this, hiddenStates) is { } qkv)
            {
                var parts = qkv.split([hidden, hidden, hidden], -1);
                (q, k, v) = (Heads(parts[0], context.Packed), Heads(parts[1], context.Packed), Heads(parts[2], context.Packed));
            }
            else
                (q, k, v) = (Project(query, hiddenStates, context.Packed), Project(key, hiddenStates, context.Packed),
                             Project(value, hiddenStates, context.Packed));                                // (B, nh, T, hs)
            if (past is not null) (k, v) = (cat([past.Key(i), k], 2), cat([past.Value(i), v], 2));              // (B, nh, past + T, hs)
        }
        context.Present?.Set(i, isCrossAttention, k, v);
        return (q, k, v);
    }

    /// <summary>
    /// Self-attention's fused query, key and value product of <paramref name="hiddenStates"/> ((…, 3H), the three side by
    /// side), or null where the inference fast path does not apply (then <see cref="Projections"/> computes them).
    /// </summary>
    protected Tensor? FusedQkv(Tensor hiddenStates) => fastQkv?.TryForward(this, hiddenStates);

    /// <summary>HF's relative_key / relative_key_query terms, added to the raw scores before scaling. With a cache HF places
    /// the query at position key_length - 1 (it decodes one token at a time).</summary>
    private Tensor RelativePositionScores(Tensor q, Tensor k, bool usesCache)
    {
        long tq = q.shape[2], tk = k.shape[2];
        var left = usesCache
            ? KeptScalars.With(tk - 1, s => full(1, 1, s, dtype: int64, device: q.device)) // (1, 1)
            : KeptScalars.Arange(0, tq, q.device).view(-1, 1);                // (T, 1)
        var right = KeptScalars.Arange(0, tk, q.device).view(1, -1);          // (1, Tk)
        var distance = KeptScalars.With(maxPositionEmbeddings - 1, s => (left - right).add(s, KeptScalars.One)); // (T, Tk) in [0, 2·max-2]
        var positional = distance_embedding!.forward(distance).to(q.dtype);  // (T, Tk, hs)
        var scores = einsum("bhld,lrd->bhlr", q, positional);
        if (positionEmbeddingType == PositionEmbeddingType.RelativeKeyQuery)
            scores = scores.Plus(einsum("bhrd,lrd->bhlr", k, positional));
        return scores;
    }
}

/// <summary>
/// Port of HF <c>BertSdpaSelfAttention</c>: the same projections (and cache) fed to <c>scaled_dot_product_attention</c>,
/// <c>is_causal</c> for decoder self-attention without a mask. Falls back to eager where HF does: relative position
/// embeddings, or when probabilities are requested.
/// </summary>
public sealed class BertSdpaSelfAttention(BertConfig config, bool isCrossAttention = false)
    : BertSelfAttention(config, isCrossAttention, nameof(BertSdpaSelfAttention))
{
    /// <inheritdoc/>
    public override (Tensor Context, Tensor? Probs) forward(Tensor hiddenStates, AttentionContext context)
    {
        if (positionEmbeddingType != PositionEmbeddingType.Absolute || context.OutputAttentions)
            return base.forward(hiddenStates, context);

        using var scope = NewDisposeScope();
        if (context.Packed?.PrefixLengths is { } lengths && !isCrossAttention && context.Past is null && context.Present is null
            && !training && FusedQkv(hiddenStates) is { } qkv)
            return (AttendEachSequence(qkv, lengths).MoveToOuterDisposeScope(), null);
        var (q, k, v) = Projections(hiddenStates, context);               // q (B, nh, T, hs); k, v (B, nh, Tk, hs)
        var mask = isCrossAttention ? context.EncoderMask : context.Mask;
        var isCausal = !isCrossAttention && mask is null && context.IsCausal && q.shape[2] > 1; // HF: tgt_len > 1
        // TorchSharp's SDPA has no scale argument; its default 1/√hs is HF's. Dropout only while training.
        var p = training ? dropout.p : 0.0;
        var result = MergeHeads(nn.functional.scaled_dot_product_attention(q, k, v, mask, p, isCausal)); // (B, T, H)
        if (context.Packed is not null) result = context.Packed.Pack(result); // (N, H)
        return (result.MoveToOuterDisposeScope(), null);
    }

    /// <summary>
    /// Packed, right-padded rows: attention per sequence on its real tokens only, straight from the fused (N, 3H) product
    /// to the packed (N, H) context — no padded keys to mask, no unpacking into (B, T, H) and packing back. The same
    /// softmax over the same real keys as the masked batch (a padded key's weight is exactly 0 there).
    /// </summary>
    private Tensor AttendEachSequence(Tensor qkv, long[] lengths)
    {
        var hidden = numHeads * headSize;
        var parts = new List<Tensor>(lengths.Length);
        long offset = 0;
        foreach (var length in lengths)
        {
            if (length == 0) continue;
            var heads = qkv.narrow(0, offset, length).view(1, length, 3, numHeads, headSize).permute(2, 0, 3, 1, 4); // (3, 1, nh, L, hs)
            var context = nn.functional.scaled_dot_product_attention(heads[0], heads[1], heads[2]);           // (1, nh, L, hs)
            parts.Add(context.permute(0, 2, 1, 3).reshape(length, hidden));                                     // (L, H)
            offset += length;
        }
        return parts.Count switch
        {
            0 => qkv.new_empty(0, hidden),
            1 => parts[0],
            _ => cat(parts, 0),
        };
    }
}
