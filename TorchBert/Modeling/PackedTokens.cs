using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// Padding-free execution: the N real tokens of a padded (B, T) batch packed into N rows. Everything in a BERT layer
/// except attention's QKᵀ / softmax / ·V works token by token, so the projections, LayerNorms and the feed-forward
/// block run on (N, H) and skip the padded positions' work (95% of the FLOPs at T = 128 are those GEMMs). Self-attention, on
/// the inference fast path with right padding (<see cref="PrefixLengths"/>), attends each sequence over its own real tokens
/// straight from the packed rows; otherwise it unpacks Q, K and V into the padded (B, T, H) layout, attends with the usual
/// mask, and packs the context again.
/// On real tokens the result is the padded forward's; padded positions come out as zeros instead of HF's values
/// (which no pipeline reads). Built from a CPU mask only: finding the real tokens of a CUDA mask would sync the device.
/// </summary>
public sealed class PackedTokens
{
    private readonly Tensor indices; // (N) flat positions b·T + t of the real tokens, on the mask's device

    private PackedTokens(Tensor indices, long batch, long length, long[]? prefixLengths)
    {
        this.indices = indices;
        Batch = batch;
        Length = length;
        PrefixLengths = prefixLengths;
    }

    /// <summary>
    /// When every row's real tokens are its first ones (right padding, as tokenizers pad), each row's count: the packed
    /// rows are then the sequences one after another, and self-attention can run on each sequence alone, without the
    /// padded keys (<see cref="BertSdpaSelfAttention"/>). Null for any other mask.
    /// </summary>
    internal long[]? PrefixLengths { get; }

    /// <summary>Rows of the padded batch.</summary>
    public long Batch { get; }
    /// <summary>Columns of the padded batch.</summary>
    public long Length { get; }
    /// <summary>Number of real (unpadded) tokens.</summary>
    public long Count => indices.shape[0];

    /// <summary>The packing of a (B, T) 1/0 mask, or null when packing saves nothing (no padding) or the mask is not on the CPU.
    /// The index tensor belongs to the caller's dispose scope.</summary>
    public static PackedTokens? FromMask(Tensor? attentionMask)
    {
        if (attentionMask is null || attentionMask.device_type != DeviceType.CPU) return null;
        using var scope = NewDisposeScope();
        var real = attentionMask.ne(KeptScalars.Zero);
        var flat = real.reshape(-1).nonzero().reshape(-1);
        if (flat.shape[0] == attentionMask.numel()) return null;
        long[]? prefix = null;
        if (attentionMask.dim() == 2)
        {
            var lengths = real.sum(1);                                                          // (B)
            var firsts = KeptScalars.Arange(0, attentionMask.shape[1], attentionMask.device).unsqueeze(0).lt(lengths.unsqueeze(1));
            if (firsts.eq(real).all().item<bool>()) prefix = lengths.to(ScalarType.Int64).data<long>().ToArray();
        }
        return new PackedTokens(flat.MoveToOuterDisposeScope(), attentionMask.shape[0], attentionMask.shape[1], prefix);
    }

    /// <summary>(B, T, H) → (N, H): the real tokens' rows.</summary>
    public Tensor Pack(Tensor x) => x.reshape(Batch * Length, x.shape[^1]).index_select(0, Indices(x));

    /// <summary>(N, H) → (B, T, H), zeros at the padded positions.</summary>
    public Tensor Unpack(Tensor x)
    {
        var full = zeros(Batch * Length, x.shape[^1], dtype: x.dtype, device: x.device);
        return full.index_copy_(0, Indices(x), x).view(Batch, Length, x.shape[^1]);
    }

    private Tensor Indices(Tensor like) => indices.device == like.device ? indices : indices.to(like.device);
}
