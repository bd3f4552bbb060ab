using System.Globalization;
using TorchBert.LoadTest;

// torchbert-loadtest: the local cluster's fault run (docs/deploy.md). Prints one line per phase: requests, 200s, 429s,
// errors, p50/p99/max latency; exit code 0 when every fault was survived with 0 errors.
var root = FindRepoRoot();
string? Get(string name) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
double Num(string name, double fallback) => Get(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        torchbert-loadtest [--short] [--replicas N] [--clients C] [--seconds S] [--freeze S] [--overload-clients C]
                           [--max-concurrent-requests M] [--drain-timeout S] [--model M] [--torchbert torchbert.dll] [--haproxy-config FILE]
          N torchbert serve replicas on loopback behind HAProxy (deploy/local/haproxy.cfg), a closed-loop /embed load
          checked against the library, then: SIGKILL of a replica, a rolling SIGTERM restart, SIGSTOP for --freeze
          seconds, and overload. --short: the CI form (2 replicas, 4 s phases).
        """);
    return 0;
}
var shortForm = args.Contains("--short");
var options = new FaultRunOptions
{
    TorchbertDll = Get("--torchbert") ?? Path.Combine(root, "tools", "TorchBert.Cli", "bin", "Release", "net10.0", "torchbert.dll"),
    HaproxyConfig = Get("--haproxy-config") ?? Path.Combine(root, "deploy", "local", "haproxy.cfg"),
    Replicas = Int("--replicas", shortForm ? 2 : 3),
    Clients = Int("--clients", shortForm ? 4 : 8),
    PhaseSeconds = Num("--seconds", shortForm ? 4 : 10),
    FreezeSeconds = Num("--freeze", 10),
    OverloadClients = Int("--overload-clients", shortForm ? 128 : 256),
    MaxConcurrentRequests = Int("--max-concurrent-requests", shortForm ? 8 : 16),
    DrainTimeoutSeconds = Int("--drain-timeout", 10),
    Model = Get("--model"),
};
if (!File.Exists(options.TorchbertDll))
{
    Console.Error.WriteLine($"torchbert-loadtest: error: {options.TorchbertDll} not found: build it first (dotnet build tools/TorchBert.Cli -c Release) or pass --torchbert");
    return 2;
}
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
try
{
    var report = await FaultRun.RunAsync(options, cancel.Token);
    Console.WriteLine($"torchbert-loadtest: {options.Replicas} replicas behind HAProxy, {Environment.ProcessorCount} CPUs, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    Console.Write(report.Table());
    return report.Passed ? 0 : 1;
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or OperationCanceledException or IOException)
{
    Console.Error.WriteLine($"torchbert-loadtest: error: {e.Message}");
    return 1;
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "TorchBert.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}
