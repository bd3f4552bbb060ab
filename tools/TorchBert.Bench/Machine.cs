using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace TorchBert.Bench;

/// <summary>What the numbers were measured on.</summary>
public static class Machine
{
    private static readonly string[] FlagsOfInterest = ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "avx512fp16", "amx_fp16"];

    public static string CpuModel() => CpuInfo("model name") ?? RuntimeInformation.ProcessArchitecture.ToString();

    public static HashSet<string> CpuFlags() => (CpuInfo("flags") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();

    /// <summary>Native bf16 matmul support (AVX512_BF16 or AMX); without it libtorch emulates bf16 in fp32.</summary>
    public static bool NativeBf16 => CpuFeatures.NativeBf16 == true;

    /// <summary>Native fp16 arithmetic (AVX512-FP16).</summary>
    public static bool NativeFp16 => CpuFeatures.NativeFp16 == true;

    public static IEnumerable<string> Describe(int threads)
    {
        var flags = CpuFlags();
        yield return $"cpu: {CpuModel()}, {Environment.ProcessorCount} logical cores; flags: " +
                     string.Join(" ", FlagsOfInterest.Select(f => flags.Contains(f) ? f : "-" + f));
        yield return $"cpu {CpuFamily()}; fast path: {TorchBert.Modeling.InferenceFastPath.Status}; {TorchBert.NativeRuntime.AllocatorTuning}";
        yield return $"os: {RuntimeInformation.OSDescription}; .NET {Environment.Version}; load average {LoadAverage()} (1, 5, 15 min)";
        yield return $"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}; threads {threads} (both engines)";
    }

    /// <summary>/proc/loadavg's 1, 5 and 15 minute averages ("?" elsewhere): how busy the machine was while measuring.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string? CpuInfo(string key)
    {
        if (!File.Exists("/proc/cpuinfo")) return null;
        return File.ReadLines("/proc/cpuinfo")
            .Where(l => l.StartsWith(key, StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(':') + 1)..].Trim())
            .FirstOrDefault();
    }

    /// <summary>Returns memory that glibc's allocator holds but no longer uses to the OS (Linux only).</summary>
    public static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { malloc_trim(0); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    /// <summary>Minor page faults of the process so far (getrusage ru_minflt); 0 off Linux.</summary>
    public static long MinorFaults()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        Span<long> usage = stackalloc long[18]; // struct rusage: two timevals (2 longs each), then 14 longs: ru_maxrss, ru_ixrss, ru_idrss, ru_isrss, ru_minflt, …
        unsafe
        {
            fixed (long* p = usage)
                if (getrusage(0, p) != 0) return 0;
        }
        return usage[8];
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern unsafe int getrusage(int who, long* usage);

    /// <summary>CPU family/model/stepping from /proc/cpuinfo ("?" elsewhere).</summary>
    public static string CpuFamily() =>
        $"family {CpuInfo("cpu family") ?? "?"} model {CpuInfo("model\t") ?? CpuModelNumber() ?? "?"} stepping {CpuInfo("stepping") ?? "?"}";

    private static string? CpuModelNumber()
    {
        if (!File.Exists("/proc/cpuinfo")) return null;
        return File.ReadLines("/proc/cpuinfo").Where(l => l.StartsWith("model", StringComparison.Ordinal) && !l.StartsWith("model name", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(':') + 1)..].Trim()).FirstOrDefault();
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    /// <summary>Resets the process's peak RSS (VmHWM) by writing 5 to /proc/self/clear_refs; false where that is refused.</summary>
    public static bool ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>A line of /proc/self/status in bytes (VmRSS, VmHWM); 0 where there is none.</summary>
    public static long ProcStatus(string key)
    {
        if (!File.Exists("/proc/self/status")) return 0;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0]) * 1024;
    }
}
