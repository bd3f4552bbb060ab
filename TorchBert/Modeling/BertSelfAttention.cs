using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertSelfAttention</c> (eager): softmax(QKᵀ/√d + mask)·V, with HF's relative_key and
/// relative_key_query position scores. Returns the context (B, T, H) and, when asked, the probabilities (B, nh, T, T).
/// </summary>
public class BertSelfAttention : nn.Module
{
    protected readonly Linear query;
    protected readonly Linear key;
    protected readonly Linear value;
    protected readonly Dropout dropout;
    private readonly Embedding? distance_embedding;
    protected readonly int numHeads;
    protected readonly int headSize;
    protected readonly PositionEmbeddingType positionEmbeddingType;
    private readonly int maxPositionEmbeddings;

    public BertSelfAttention(BertConfig config) : this(config, nameof(BertSelfAttention)) { }

    protected BertSelfAttention(BertConfig config, string name) : base(name)
    {
        numHeads = config.NumAttentionHeads;
        headSize = config.HeadSize;
        query = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        key = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        value = ModuleFactory.Linear(config.HiddenSize, config.HiddenSize);
        dropout = nn.Dropout(config.AttentionProbsDropoutProb);
        positionEmbeddingType = config.PositionEmbeddingType;
        maxPositionEmbeddings = config.MaxPositionEmbeddings;
        if (positionEmbeddingType != PositionEmbeddingType.Absolute)
            distance_embedding = ModuleFactory.Embedding(2 * config.MaxPositionEmbeddings - 1, headSize);
        RegisterComponents();
    }

    /// <summary>(B, T, H) → (B, nh, T, hs).</summary>
    protected Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], numHeads, headSize).permute(0, 2, 1, 3);

    /// <summary>(B, nh, T, hs) → (B, T, H).</summary>
    protected Tensor MergeHeads(Tensor x) => x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], numHeads * headSize);

    /// <param name="hiddenStates">(B, T, H).</param>
    /// <param name="attentionMask">additive mask broadcastable to (B, nh, T, T), e.g. (B, 1, 1, T); null = attend everywhere.</param>
    /// <param name="outputAttentions">also return the probabilities (B, nh, T, T).</param>
    /// <param name="packed">when set, hidden states and context are the packed (N, H) real tokens (see <see cref="PackedTokens"/>).</param>
    public virtual (Tensor Context, Tensor? Probs) forward(Tensor hiddenStates, Tensor? attentionMask = null, bool outputAttentions = false,
        PackedTokens? packed = null)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Projections(hiddenStates, packed);                // (B, nh, T, hs) each

        var scores = matmul(q, k.transpose(-1, -2));                      // (B, nh, T, T)
        if (distance_embedding is not null) scores = scores + RelativePositionScores(q, k);
        scores = scores / Math.Sqrt(headSize);
        if (attentionMask is not null) scores = scores + attentionMask;

        var probs = nn.functional.softmax(scores, dim: -1);               // (B, nh, T, T)
        var context = MergeHeads(matmul(dropout.forward(probs), v));      // (B, T, H)
        if (packed is not null) context = packed.Pack(context);           // (N, H)
        return (context.MoveToOuterDisposeScope(), outputAttentions ? probs.MoveToOuterDisposeScope() : null);
    }

    /// <summary>Q, K, V split into heads (B, nh, T, hs); from packed (N, H) rows they are projected, then unpacked.</summary>
    protected (Tensor Q, Tensor K, Tensor V) Projections(Tensor hiddenStates, PackedTokens? packed)
    {
        Tensor Project(Linear linear)
        {
            var x = linear.forward(hiddenStates);
            return SplitHeads(packed is null ? x : packed.Unpack(x));
        }
        return (Project(query), Project(key), Project(value));
    }

    /// <summary>HF's relative_key / relative_key_query terms, added to the raw scores before scaling.</summary>
    private Tensor RelativePositionScores(Tensor q, Tensor k)
    {
        long tq = q.shape[2], tk = k.shape[2];
        var left = arange(tq, dtype: int64, device: q.device).view(-1, 1);   // (T, 1)
        var right = arange(tk, dtype: int64, device: q.device).view(1, -1);  // (1, T)
        var distance = left - right + (maxPositionEmbeddings - 1);           // (T, T) in [0, 2·max-2]
        var positional = distance_embedding!.forward(distance).to(q.dtype);  // (T, T, hs)
        var scores = einsum("bhld,lrd->bhlr", q, positional);
        if (positionEmbeddingType == PositionEmbeddingType.RelativeKeyQuery)
            scores = scores + einsum("bhrd,lrd->bhlr", k, positional);
        return scores;
    }
}

/// <summary>
/// Port of HF <c>BertSdpaSelfAttention</c>: the same projections fed to <c>scaled_dot_product_attention</c>.
/// Falls back to eager where HF does: relative position embeddings, or when probabilities are requested.
/// </summary>
public sealed class BertSdpaSelfAttention(BertConfig config) : BertSelfAttention(config, nameof(BertSdpaSelfAttention))
{
    public override (Tensor Context, Tensor? Probs) forward(Tensor hiddenStates, Tensor? attentionMask = null, bool outputAttentions = false,
        PackedTokens? packed = null)
    {
        if (positionEmbeddingType != PositionEmbeddingType.Absolute || outputAttentions)
            return base.forward(hiddenStates, attentionMask, outputAttentions, packed);

        using var scope = NewDisposeScope();
        var (q, k, v) = Projections(hiddenStates, packed);                // (B, nh, T, hs) each
        // TorchSharp's SDPA has no scale argument; its default 1/√hs is HF's. Dropout only while training.
        var p = training ? dropout.p : 0.0;
        var context = MergeHeads(nn.functional.scaled_dot_product_attention(q, k, v, attentionMask, p, false)); // (B, T, H)
        if (packed is not null) context = packed.Pack(context);           // (N, H)
        return (context.MoveToOuterDisposeScope(), null);
    }
}
