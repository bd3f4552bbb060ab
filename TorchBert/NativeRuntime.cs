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
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException
                                   or BadImageFormatException or EntryPointNotFoundException or InvalidOperationException)
        {
            return e;
        }
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
