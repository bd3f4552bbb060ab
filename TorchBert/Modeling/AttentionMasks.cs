using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>HF's <c>get_extended_attention_mask</c> for encoders.</summary>
public static class AttentionMasks
{
    /// <summary>
    /// (B, T) 1/0 mask → additive (B, 1, 1, T) mask of <paramref name="dtype"/>: 0 where attended,
    /// <c>finfo(dtype).min</c> where masked, i.e. <c>(1 - mask) * finfo(dtype).min</c> exactly as HF.
    /// </summary>
    public static Tensor Extended(Tensor mask, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var m = mask.unsqueeze(1).unsqueeze(2).to(dtype);              // (B, 1, 1, T)
        return ((1.0 - m) * finfo(dtype).min).MoveToOuterDisposeScope();
    }
}
