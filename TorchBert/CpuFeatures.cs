using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert;

/// <summary>
/// What the CPU can do natively for reduced-precision inference, read once from <c>/proc/cpuinfo</c> (Linux; elsewhere
/// unknown). Without AVX512_BF16 or AMX, libtorch runs bfloat16 matrix products by converting to float32 around each
/// op, which makes bf16 several times slower than float32 (5–7× measured on an AVX2 AMD EPYC); with them, bf16 is
/// 2–3× faster than float32. The same holds for float16 and AVX512_FP16 / AMX_FP16.
/// </summary>
public static class CpuFeatures
{
    private static readonly Lazy<HashSet<string>?> Flags = new(ReadFlags);
    private static int warned;

    /// <summary>The CPU's flags, or null when unknown (no /proc/cpuinfo).</summary>
    public static IReadOnlySet<string>? CpuFlags => Flags.Value;

    /// <summary>Native bf16 matrix products (avx512_bf16 or amx_bf16); null when unknown.</summary>
    public static bool? NativeBf16 => Flags.Value is { } f ? f.Contains("avx512_bf16") || f.Contains("amx_bf16") : null;

    /// <summary>Native fp16 arithmetic (avx512fp16 or amx_fp16); null when unknown.</summary>
    public static bool? NativeFp16 => Flags.Value is { } f ? f.Contains("avx512fp16") || f.Contains("amx_fp16") : null;

    /// <summary>
    /// A one-line note when <paramref name="dtype"/> on <paramref name="device"/> is known to run slower than float32
    /// (a CPU without the native instructions); null otherwise.
    /// </summary>
    public static string? SlowDTypeNote(ScalarType dtype, DeviceType device)
    {
        if (device != DeviceType.CPU) return null;
        var (native, needs) = dtype switch
        {
            ScalarType.BFloat16 => (NativeBf16, "avx512_bf16 or amx_bf16"),
            ScalarType.Float16 => (NativeFp16, "avx512fp16 or amx_fp16"),
            _ => ((bool?)true, ""),
        };
        if (native is not false) return null;
        var name = dtype == ScalarType.BFloat16 ? "bfloat16" : "float16";
        return $"{name} on this CPU will be slower than float32: it has no {needs}, so libtorch emulates {name} through float32 " +
               "(use float32 here; bf16 pays off on CPUs with AVX512_BF16/AMX or on GPUs)";
    }

    /// <summary>
    /// Logs <see cref="SlowDTypeNote"/> as a warning to <paramref name="logger"/>, once per process (the first call with a
    /// logger); nothing without one.
    /// </summary>
    public static void WarnOnceIfSlow(ScalarType dtype, DeviceType device, ILogger? logger) => WarnOnceIfSlow(dtype, device, logger, ref warned);

    /// <summary><see cref="WarnOnceIfSlow(ScalarType, DeviceType, ILogger?)"/> with its own once-flag (the process's one, or a test's).</summary>
    internal static void WarnOnceIfSlow(ScalarType dtype, DeviceType device, ILogger? logger, ref int once)
    {
        if (logger is null || SlowDTypeNote(dtype, device) is not { } note) return;
        if (Interlocked.Exchange(ref once, 1) != 0) return;
        logger.LogWarning("{Note}", note);
    }

    private static HashSet<string>? ReadFlags()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return null;
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return line is null ? null : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
