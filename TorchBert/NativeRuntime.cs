using System.Runtime.InteropServices;
using TorchSharp;

namespace TorchBert;

/// <summary>
/// Loads libtorch once and turns a load failure into one line saying why and what fixes it, instead of the
/// loader's long trace (e.g. Debian 12's libstdc++ lacks GLIBCXX_3.4.32, which TorchSharp 0.107 needs).
/// </summary>
public static class NativeRuntime
{
    private static readonly Lazy<Exception?> LoadError = new(TryLoad, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Throws <see cref="TorchBertNativeException"/> when libtorch can't be used on this machine.</summary>
    public static void EnsureLoaded()
    {
        if (LoadError.Value is { } e) throw new TorchBertNativeException(Diagnose(e, FindLibStdCxx()), e);
    }

    private static Exception? TryLoad()
    {
        try
        {
            using var probe = torch.zeros(1);
            AllocatorTuning = TuneAllocator();
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException
                                   or BadImageFormatException or EntryPointNotFoundException or InvalidOperationException)
        {
            return e;
        }
    }

    /// <summary>The environment variable that leaves glibc's allocator at its defaults: <c>TORCHBERT_MALLOC_TUNING=0</c>.</summary>
    public const string MallocTuningVariable = "TORCHBERT_MALLOC_TUNING";

    /// <summary>Largest block glibc then serves from its heap rather than a fresh mmap (glibc's ceiling for the setting on 64-bit).</summary>
    internal const int MmapThreshold = 32 << 20;

    /// <summary>Free memory at the heap's top that glibc keeps instead of returning it to the OS.</summary>
    internal const int TrimThreshold = 256 << 20;

    /// <summary>
    /// What was done to the C allocator when libtorch loaded (one line), or null before it loaded. On glibc, libtorch's
    /// CPU tensors come from malloc; by default every block of 128 KiB or more (after warm-up, up to 32 MiB) is a fresh
    /// mmap, returned to the OS on free, so each forward's large temporaries fault their pages in again (≈7 µs per 4 KiB
    /// page in a VM, more than the math in some steps). TorchBert raises glibc's mmap threshold to 32 MiB and its trim
    /// threshold to 256 MiB (mallopt at load, as the GLIBC_TUNABLES glibc.malloc.mmap_threshold/trim_threshold would):
    /// temporaries are then reused from the heap. Not done when GLIBC_TUNABLES already sets malloc tunables or when
    /// <see cref="MallocTuningVariable"/> is 0. See docs/performance.md.
    /// </summary>
    public static string? AllocatorTuning { get; private set; }

    private static string TuneAllocator()
    {
        if (!OperatingSystem.IsLinux()) return "allocator: unchanged (not Linux)";
        if (Environment.GetEnvironmentVariable(MallocTuningVariable)?.Trim() is "0" or "false" or "off")
            return $"allocator: unchanged ({MallocTuningVariable}=0)";
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("glibc.malloc.", StringComparison.Ordinal) == true)
            return "allocator: unchanged (GLIBC_TUNABLES sets malloc tunables)";
        try
        {
            if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "mallopt", out var fn))
                return "allocator: unchanged (no glibc mallopt)";
            unsafe
            {
                var mallopt = (delegate* unmanaged<int, int, int>)fn;
                const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
                var ok = mallopt(M_MMAP_THRESHOLD, MmapThreshold) == 1 & mallopt(M_TRIM_THRESHOLD, TrimThreshold) == 1;
                return ok
                    ? $"allocator: glibc mmap_threshold {MmapThreshold >> 20} MiB, trim_threshold {TrimThreshold >> 20} MiB"
                    : "allocator: glibc refused mallopt";
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return "allocator: unchanged (" + e.GetType().Name + ")";
        }
    }

    private static readonly Lazy<nint> MallocTrim = new(() =>
        OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "malloc_trim", out var fn) ? fn : 0);

    /// <summary>
    /// Gives the C heap's free pages back to the OS (glibc <c>malloc_trim(0)</c>; nothing elsewhere). With the trim
    /// threshold raised (<see cref="AllocatorTuning"/>), memory freed once and for all — a Linear's plain weight after
    /// its packed copy replaced it — would otherwise stay resident as a hole the next, differently sized, allocations
    /// may not fit. Returns whether it ran.
    /// </summary>
    internal static bool ReturnFreeMemory()
    {
        var fn = MallocTrim.Value;
        if (fn == 0) return false;
        unsafe { ((delegate* unmanaged<nuint, int>)fn)(0); }
        return true;
    }

    /// <summary>The one-line explanation for a load failure; <paramref name="libStdCxx"/> is the C++ runtime found, if any.</summary>
    internal static string Diagnose(Exception e, string? libStdCxx)
    {
        if (libStdCxx is not null && !ContainsMarker(libStdCxx, "GLIBCXX_3.4.32"))
            return $"TorchSharp's native library needs GLIBCXX_3.4.32 but {libStdCxx} is older (Debian 12?): run 'bash scripts/setup.sh' (installs libstdc++6 from Debian 13), or use Ubuntu 24.04+/Debian 13+.";
        var inner = e;
        while (inner.InnerException is not null) inner = inner.InnerException;
        var first = inner.Message.Split('\n', 2)[0].Trim();
        return $"TorchSharp's native library (libtorch) could not be loaded: {first}. Reference TorchSharp-cpu (or a TorchSharp-cuda-* package) in the executable, and on Debian 12 run 'bash scripts/setup.sh'.";
    }

    internal static string? FindLibStdCxx()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
        string[] dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu"];
        return dirs.Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
    }

    internal static bool ContainsMarker(string path, string marker)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            return bytes.AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(marker)) >= 0;
        }
        catch (IOException) { return true; } // unreadable: don't blame it
        catch (UnauthorizedAccessException) { return true; }
    }
}

/// <summary>libtorch can't be loaded; the message is one line with the cause and the fix.</summary>
public sealed class TorchBertNativeException(string message, Exception inner) : TorchBertException(message, inner);
