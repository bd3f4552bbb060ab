using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// Reads the values of a contiguous CPU tensor in place (one span over its memory: no libtorch op, no temporary
/// tensor, no dispose scope). The input checks and the all-ones-mask check of every forward use it: at b1×t16 the
/// tensor-op versions (min, max, eq, all and four <c>item</c> reads) cost more instructions than the values they read.
/// Anything else (other dtypes, strided views, other devices) returns false/null and the caller uses tensor ops.
/// </summary>
internal static class HostValues
{
    /// <summary>Min and max of an int64/int32 tensor.</summary>
    public static bool TryMinMax(Tensor t, out long min, out long max)
    {
        min = long.MaxValue;
        max = long.MinValue;
        if (!Readable(t)) return false;
        switch (t.dtype)
        {
            case ScalarType.Int64:
                foreach (var v in MemoryMarshal.Cast<byte, long>(t.bytes)) { if (v < min) min = v; if (v > max) max = v; }
                return true;
            case ScalarType.Int32:
                foreach (var v in MemoryMarshal.Cast<byte, int>(t.bytes)) { if (v < min) min = v; if (v > max) max = v; }
                return true;
            default:
                return false;
        }
    }

    /// <summary>Whether every value equals 1 (int64, int32, bool, float32); null when the tensor can't be read in place.</summary>
    public static bool? AllOnes(Tensor t)
    {
        if (!Readable(t)) return null;
        return t.dtype switch
        {
            ScalarType.Int64 => !MemoryMarshal.Cast<byte, long>(t.bytes).ContainsAnyExcept(1L),
            ScalarType.Int32 => !MemoryMarshal.Cast<byte, int>(t.bytes).ContainsAnyExcept(1),
            ScalarType.Bool => !t.bytes.ContainsAnyExcept((byte)1),
            ScalarType.Float32 => AllOnes(MemoryMarshal.Cast<byte, float>(t.bytes)),
            _ => null,
        };
    }

    private static bool AllOnes(ReadOnlySpan<float> values)
    {
        foreach (var v in values) if (v != 1f) return false;
        return true;
    }

    private static bool Readable(Tensor t) =>
        t.device_type == TorchSharp.DeviceType.CPU && t.numel() is > 0 and <= int.MaxValue / 8 && t.is_contiguous();
}
