using System.Diagnostics;
using System.Reflection;

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

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"torchbert {string.Join(' ', args)} did not finish in 2 minutes");
        }
        process.WaitForExit();
        return new CliResult(args, process.ExitCode, stdout.Result, stderr.Result);
    }
}
