using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TorchBert.Tests.Cli;

/// <summary>What one run of the CLI printed and returned.</summary>
public sealed record CliResult(string[] Args, int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() =>
        $"torchbert {string.Join(' ', Args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a))} → exit {ExitCode}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
}

/// <summary>
/// Runs the real <c>torchbert</c> program (<c>dotnet torchbert.dll ...</c>) from the CLI project's own output folder,
/// whose path the test project bakes into this assembly at build time (see TorchBert.Tests.csproj).
/// </summary>
public static class CliRunner
{
    public static string DllPath { get; } =
        typeof(CliRunner).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == "TorchBertCli")?.Value
        ?? throw new InvalidOperationException("TorchBertCli metadata missing: TorchBert.Tests.csproj should set it from the CLI project");

    /// <summary>The <c>dotnet</c> host running these tests (the SDK sets DOTNET_HOST_PATH), else the one on PATH.</summary>
    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <c>torchbert args</c> with <c>TORCHBERT_WEIGHTS=weights</c> in <paramref name="workingDirectory"/>.</summary>
    public static CliResult Run(string weights, string workingDirectory, params string[] args) => RunWithEnvironment(null, weights, workingDirectory, args);

    /// <summary><see cref="Run"/> with extra environment variables (null value: removed).</summary>
    public static CliResult RunWithEnvironment(IReadOnlyDictionary<string, string?>? environment, string weights, string workingDirectory, params string[] args)
    {
        using var running = Start(environment, weights, workingDirectory, args);
        return running.WaitForExit(TimeSpan.FromMinutes(2));
    }

    /// <summary>Starts <c>torchbert args</c> without waiting: for tests that signal the process while it works.</summary>
    public static CliProcess Start(IReadOnlyDictionary<string, string?>? environment, string weights, string workingDirectory, params string[] args)
    {
        File.Exists(DllPath).Should().BeTrue($"the CLI is built with the tests ({DllPath})");
        var start = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
        };
        start.ArgumentList.Add(DllPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["TORCHBERT_WEIGHTS"] = weights;
        start.Environment.Remove("TORCHBERT_DEBUG");
        // The human-readable output formats numbers with the current culture; pin it (JSON is culture-free anyway).
        start.Environment["LC_ALL"] = "C";
        start.Environment["LANG"] = "C";
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
            if (v is null) start.Environment.Remove(k); else start.Environment[k] = v;

        return new CliProcess(args, Process.Start(start)!);
    }
}

/// <summary>A running <c>torchbert</c> (the <c>dotnet</c> host runs the app in its own process, so its id is the app's).</summary>
public sealed partial class CliProcess : IDisposable
{
    private readonly string[] args;
    private readonly Process process;
    private readonly System.Text.StringBuilder stderr = new();
    private readonly Task<string> stdout;
    private readonly TaskCompletionSource stderrClosed = new();

    internal CliProcess(string[] args, Process process)
    {
        this.args = args;
        this.process = process;
        stdout = process.StandardOutput.ReadToEndAsync();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { stderrClosed.TrySetResult(); return; }
            lock (stderr) stderr.Append(e.Data).Append('\n');
        };
        process.BeginErrorReadLine();
    }

    /// <summary>What the process has written to stderr so far.</summary>
    public string Stderr { get { lock (stderr) return stderr.ToString(); } }

    public bool HasExited => process.HasExited;

    /// <summary>True once the process has mapped a shared library whose path contains <paramref name="name"/> (Linux /proc/PID/maps).</summary>
    public bool HasLoaded(string name)
    {
        try { return File.ReadAllText($"/proc/{process.Id}/maps").Contains(name, StringComparison.Ordinal); }
        catch (IOException) { return false; }
    }

    /// <summary>Sends SIGINT, as Ctrl-C in a terminal does (kill(2)).</summary>
    public void Interrupt()
    {
        if (Kill(process.Id, 2) != 0) throw new InvalidOperationException($"kill({process.Id}, SIGINT) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Waits for the exit (killing the process after <paramref name="timeout"/>) and returns what it printed.</summary>
    public CliResult WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"torchbert {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:F0} s");
        }
        process.WaitForExit();
        stderrClosed.Task.Wait(TimeSpan.FromSeconds(10));
        return new CliResult(args, process.ExitCode, stdout.Result, Stderr);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds (false if the process exits first or <paramref name="timeout"/> passes).</summary>
    public bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition()) return true;
            if (process.HasExited) return condition();
            Thread.Sleep(50);
        }
        return false;
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
