using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>HF's <c>get_extended_attention_mask</c> for decoders (<c>create_extended_attention_mask_for_decoder</c>).</summary>
internal static class DecoderAttentionMasks
{
    /// <summary>
    /// Causal × padding, additive: (B, 1, T, past + T) of <paramref name="dtype"/>, 0 where query i (at position past + i)
    /// may attend key j, <c>finfo(dtype).min</c> elsewhere. Every query sees the whole cached prefix (HF prepends ones over
    /// it) and the new tokens up to itself; <paramref name="mask"/> (B, past + T) then removes padded keys. A null mask
    /// gives (1, 1, T, past + T).
    /// </summary>
    public static Tensor Extended(Tensor? mask, long length, long past, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var seq = KeptScalars.Arange(0, length, device);
        var causal = seq.view(1, -1).le(seq.view(-1, 1));                               // (T, T): key j <= query i
        if (past > 0) causal = cat([ones(length, past, dtype: ScalarType.Bool, device: device), causal], 1); // (T, past + T)
        var m = causal.unsqueeze(0).unsqueeze(0).to(dtype);                              // (1, 1, T, past + T)
        if (mask is not null) m = m * mask.unsqueeze(1).unsqueeze(2).to(dtype);          // (B, 1, T, past + T)
        return m.OneMinus().Times(finfo(dtype).min).MoveToOuterDisposeScope();
    }
}
