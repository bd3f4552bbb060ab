using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace TorchBert.LoadTest;

/// <summary>POSIX signals sent to the replicas (by process id: only processes this run started).</summary>
internal static partial class Signals
{
    public const int Kill = 9, Term = 15, Cont = 18, Stop = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int sig);

    public static void Send(Process p, int signal)
    {
        if (SysKill(p.Id, signal) != 0) throw new InvalidOperationException($"kill({p.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }
}

/// <summary>Where the run's pieces are and how they are configured.</summary>
internal sealed record ClusterOptions
{
    public required string TorchbertDll { get; init; }
    public required string HaproxyConfig { get; init; }
    public required string RunDirectory { get; init; }
    public int Replicas { get; init; } = 3;
    public int MaxConcurrentRequests { get; init; } = 16;
    public int DrainTimeoutSeconds { get; init; } = 10;
    public string? Model { get; init; }
    public TextWriter Log { get; init; } = Console.Error;
}

/// <summary>One <c>torchbert serve</c> process on a loopback port; restartable on the same port.</summary>
internal sealed class Replica(string name, int port, ClusterOptions options)
{
    public string Name { get; } = name;
    public int Port { get; } = port;
    public Process? Process { get; private set; }
    public int Starts { get; private set; }
    private Task? pump;

    public void Start()
    {
        Starts++;
        var threads = Math.Max(1, Environment.ProcessorCount / options.Replicas);
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(options.TorchbertDll);
        foreach (var a in new[] { "serve", "--hostname", "127.0.0.1", "--port", Port.ToString(), "--max-concurrent-requests", options.MaxConcurrentRequests.ToString(),
                                  "--drain-timeout", options.DrainTimeoutSeconds.ToString() })
            start.ArgumentList.Add(a);
        if (options.Model is not null) { start.ArgumentList.Add("--model"); start.ArgumentList.Add(options.Model); }
        start.Environment["OMP_NUM_THREADS"] = threads.ToString();
        start.Environment.Remove("PORT");
        start.Environment.Remove("HOSTNAME");
        Process = Process.Start(start) ?? throw new InvalidOperationException("could not start torchbert serve");
        var log = new StreamWriter(Path.Combine(options.RunDirectory, $"{Name}.{Starts}.log")) { AutoFlush = true };
        var p = Process;
        pump = Task.WhenAll(Copy(p.StandardOutput, log), Copy(p.StandardError, log)).ContinueWith(_ => log.Dispose());
    }

    private static async Task Copy(StreamReader from, StreamWriter to)
    {
        string? line;
        while ((line = await from.ReadLineAsync()) is not null)
            lock (to) to.WriteLine(line);
    }

    public string LogText => File.Exists(Path.Combine(options.RunDirectory, $"{Name}.{Starts}.log"))
        ? ReadShared(Path.Combine(options.RunDirectory, $"{Name}.{Starts}.log")) : "";

    private static string ReadShared(string path)
    {
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(s).ReadToEnd();
    }

    /// <summary>Waits until /health answers 200 (the model ran a real forward).</summary>
    public async Task WaitHealthyAsync(HttpClient http, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (Process!.HasExited) throw new InvalidOperationException($"{Name} exited with {Process.ExitCode} while starting:\n{LogText}");
            try
            {
                using var r = await http.GetAsync($"http://127.0.0.1:{Port}/health");
                if (r.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{Name} was not healthy after {timeout.TotalSeconds:F0} s:\n{LogText}");
    }

    /// <summary>Waits for the process to exit; its exit code.</summary>
    public async Task<int> WaitExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await Process!.WaitForExitAsync(cts.Token);
        if (pump is not null) await pump;
        return Process.ExitCode;
    }

    /// <summary>Ends the process if it still runs (SIGCONT first, in case it is stopped; then SIGKILL).</summary>
    public void Cleanup()
    {
        if (Process is null) return;
        try
        {
            if (!Process.HasExited)
            {
                Signals.Send(Process, Signals.Cont);
                Process.Kill();
                Process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
        Process.Dispose();
        Process = null;
    }

    internal static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
}

/// <summary>HAProxy in the foreground (-db) with deploy/local/haproxy.cfg and one server line per replica.</summary>
internal sealed class LoadBalancer(ClusterOptions options, IReadOnlyList<Replica> replicas) : IDisposable
{
    public int Port { get; } = FreePort();
    public int StatsPort { get; } = FreePort();
    public Process? Process { get; private set; }
    public string ConfigPath => Path.Combine(options.RunDirectory, "haproxy.cfg");

    public static string ConfigText(string template, IEnumerable<Replica> replicas)
    {
        var sb = new StringBuilder(File.ReadAllText(template).TrimEnd()).Append('\n');
        foreach (var r in replicas) sb.Append($"    server {r.Name} 127.0.0.1:{r.Port}\n");
        return sb.ToString();
    }

    public void Start()
    {
        File.WriteAllText(ConfigPath, ConfigText(options.HaproxyConfig, replicas));
        var check = Run(["-c", "-f", ConfigPath]);
        if (check.ExitCode != 0) throw new InvalidOperationException($"haproxy -c rejected {ConfigPath}:\n{check.Output}");
        var start = Info(["-db", "-f", ConfigPath]);
        Process = Process.Start(start)!;
        var log = new StreamWriter(Path.Combine(options.RunDirectory, "haproxy.log")) { AutoFlush = true };
        _ = Task.Run(async () =>
        {
            string? line;
            while ((line = await Process.StandardError.ReadLineAsync()) is not null) lock (log) log.WriteLine(line);
        });
        _ = Task.Run(async () =>
        {
            string? line;
            while ((line = await Process.StandardOutput.ReadLineAsync()) is not null) lock (log) log.WriteLine(line);
        });
    }

    private ProcessStartInfo Info(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(HaproxyBinary()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["TB_LB_PORT"] = Port.ToString();
        start.Environment["TB_STATS_PORT"] = StatsPort.ToString();
        return start;
    }

    private (int ExitCode, string Output) Run(IEnumerable<string> args)
    {
        using var p = Process.Start(Info(args))!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output + err.Result);
    }

    public static string HaproxyBinary()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/local/sbin"]))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, "haproxy"))) return Path.Combine(dir, "haproxy");
        throw new InvalidOperationException("haproxy not found: install it (Debian/Ubuntu: apt-get install -y haproxy)");
    }

    /// <summary>HAProxy's status of each replica (UP, DOWN, "UP 1/2", ...), from its CSV stats.</summary>
    public async Task<Dictionary<string, string>> StatusAsync(HttpClient http)
    {
        var csv = await http.GetStringAsync($"http://127.0.0.1:{StatsPort}/stats;csv");
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].TrimStart('#', ' ').Split(',');
        int px = Array.IndexOf(header, "pxname"), sv = Array.IndexOf(header, "svname"), st = Array.IndexOf(header, "status");
        return lines.Skip(1).Select(l => l.Split(','))
            .Where(f => f[px] == "replicas" && f[sv] is not ("FRONTEND" or "BACKEND"))
            .ToDictionary(f => f[sv], f => f[st]);
    }

    /// <summary>Waits until HAProxy reports <paramref name="name"/> (or every replica when null) with a status starting <paramref name="status"/>.</summary>
    public async Task<TimeSpan> WaitStatusAsync(HttpClient http, string? name, string status, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (Process!.HasExited) throw new InvalidOperationException($"haproxy exited with {Process.ExitCode}");
            try
            {
                var s = await StatusAsync(http);
                if (name is null ? s.Values.All(v => v == status) : s.TryGetValue(name, out var v) && v == status) return clock.Elapsed;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"HAProxy did not report {name ?? "every replica"} {status} within {timeout.TotalSeconds:F0} s");
    }

    public void Dispose()
    {
        if (Process is null) return;
        try { if (!Process.HasExited) { Process.Kill(); Process.WaitForExit(5000); } }
        catch (InvalidOperationException) { }
        Process.Dispose();
        Process = null;
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
