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
        return m.OneMinus().Times(finfo(dtype).min).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether a (B, T) mask keeps every position, so no mask need be passed at all (HF's
    /// <c>_prepare_4d_attention_mask_for_sdpa</c> returns None then, letting SDPA pick its fused kernel; for eager the
    /// extended mask would be all zeros). Checked only on CPU: reading a CUDA tensor's values would sync the device.
    /// </summary>
    public static bool AttendsEverywhere(Tensor mask)
    {
        if (mask.device_type != TorchSharp.DeviceType.CPU) return false;
        if (HostValues.AllOnes(mask) is { } allOnes) return allOnes; // contiguous int64/int32/bool/float32: read in place
        using var keep = mask.eq(KeptScalars.One);
        using var all = keep.all();
        return all.item<bool>();
    }
}
