using System.Diagnostics;
using System.Text.Json;

namespace TorchBert.LoadTest;

/// <summary>The fault run's knobs (defaults: the full form of docs/deploy.md).</summary>
internal sealed record FaultRunOptions
{
    public required string TorchbertDll { get; init; }
    public required string HaproxyConfig { get; init; }
    public int Replicas { get; init; } = 3;
    public int Clients { get; init; } = 8;
    public double PhaseSeconds { get; init; } = 10;
    public double FreezeSeconds { get; init; } = 10;
    public int OverloadClients { get; init; } = 256;
    public int MaxConcurrentRequests { get; init; } = 16;
    public int DrainTimeoutSeconds { get; init; } = 10;
    public string? Model { get; init; }
    public TextWriter Log { get; init; } = Console.Error;
}

/// <summary>What the run found.</summary>
internal sealed record FaultRunReport(IReadOnlyList<WindowStats> Windows, IReadOnlyList<string> Notes, IReadOnlyList<string> Failures, string RunDirectory)
{
    public bool Passed => Failures.Count == 0;

    public string Table()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{"phase",-28} {"requests",9} {"200",7} {"429",7} {"errors",7} {"p50 ms",8} {"p99 ms",8} {"max ms",8}");
        foreach (var w in Windows)
            sb.AppendLine($"{w.Name,-28} {w.Requests,9} {w.Ok,7} {w.TooMany,7} {w.Errors,7} {w.P50,8:F0} {w.P99,8:F0} {w.Max,8:F0}");
        foreach (var n in Notes) sb.AppendLine(n);
        foreach (var f in Failures) sb.AppendLine($"FAILED: {f}");
        sb.AppendLine(Passed ? "result: every fault survived with 0 errors" : "result: FAILED");
        return sb.ToString();
    }
}

/// <summary>
/// The local cluster and its faults: N replicas of <c>torchbert serve</c> on loopback behind HAProxy, a closed-loop load
/// of <c>/embed</c> requests checked against the library's vectors, and in turn: SIGKILL of a replica, a rolling restart
/// with SIGTERM, a replica frozen with SIGSTOP, and overload of every replica. Bounded in time; every process it starts is
/// ended when it returns (or throws).
/// </summary>
internal static class FaultRun
{
    public static readonly string[] Sentences =
    [
        "The cat sits outside", "A man is playing guitar.", "The new movie is awesome", "I love pasta",
        "Replicas behind a load balancer lose nothing.", "How far is the moon from the earth?",
        "Kubernetes restarts pods that fail their liveness probe.", "Café au lait in Zürich", "The weather is lovely today",
        "He drove the car to the market.", "Embeddings map sentences to vectors.", "A quick brown fox jumps over the lazy dog",
    ];

    public static async Task<FaultRunReport> RunAsync(FaultRunOptions o, CancellationToken cancel = default)
    {
        var runDir = Directory.CreateTempSubdirectory("torchbert-cluster-").FullName;
        var log = o.Log;
        var notes = new List<string>();
        var failures = new List<string>();
        var windows = new List<WindowStats>();
        var clusterOptions = new ClusterOptions
        {
            TorchbertDll = o.TorchbertDll, HaproxyConfig = o.HaproxyConfig, RunDirectory = runDir, Replicas = o.Replicas,
            MaxConcurrentRequests = o.MaxConcurrentRequests, DrainTimeoutSeconds = o.DrainTimeoutSeconds, Model = o.Model, Log = log,
        };
        var replicas = Enumerable.Range(1, o.Replicas).Select(i => new Replica($"r{i}", LoadBalancer.FreePort(), clusterOptions)).ToList();
        using var lb = new LoadBalancer(clusterOptions, replicas);
        using var cleanup = cancel.Register(() => { foreach (var r in replicas) r.Cleanup(); lb.Dispose(); });
        EventHandler onExit = (_, _) => { foreach (var r in replicas) r.Cleanup(); lb.Dispose(); };
        AppDomain.CurrentDomain.ProcessExit += onExit;
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5) })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var startup = TimeSpan.FromMinutes(3);
        try
        {
            log.WriteLine($"loadtest: expected vectors from the library (torchbert embed --normalize --json), run folder {runDir}");
            var expected = ExpectedVectors(o);

            log.WriteLine($"loadtest: starting {o.Replicas} replicas (torchbert serve, --max-concurrent-requests {o.MaxConcurrentRequests}, --drain-timeout {o.DrainTimeoutSeconds})");
            foreach (var r in replicas) r.Start();
            await Task.WhenAll(replicas.Select(r => r.WaitHealthyAsync(http, startup)));
            lb.Start();
            await lb.WaitStatusAsync(http, null, "UP", TimeSpan.FromSeconds(30));
            log.WriteLine($"loadtest: HAProxy on 127.0.0.1:{lb.Port} sees every replica UP");

            var clock = Stopwatch.StartNew();
            var loop = new ClosedLoop(http, $"http://127.0.0.1:{lb.Port}/embed", Sentences, expected, clock);
            double Now() => clock.Elapsed.TotalSeconds;
            var phase = TimeSpan.FromSeconds(o.PhaseSeconds);

            using (var stop = new CancellationTokenSource())
            {
                var load = loop.RunAsync(o.Clients, stop.Token);
                try
                {
                    // Baseline.
                    var t = Now();
                    await Task.Delay(phase, cancel);
                    windows.Add(WindowStats.Of($"steady ({o.Clients} clients)", loop.Outcomes, t, Now()));

                    // SIGKILL of a replica, then it is started again.
                    var victim = replicas[0];
                    log.WriteLine($"loadtest: SIGKILL {victim.Name}");
                    t = Now();
                    Signals.Send(victim.Process!, Signals.Kill);
                    await victim.WaitExitAsync(TimeSpan.FromSeconds(10));
                    var down = await lb.WaitStatusAsync(http, victim.Name, "DOWN", TimeSpan.FromSeconds(30));
                    await Task.Delay(phase, cancel);
                    victim.Start();
                    await victim.WaitHealthyAsync(http, startup);
                    await lb.WaitStatusAsync(http, victim.Name, "UP", TimeSpan.FromSeconds(30));
                    windows.Add(WindowStats.Of($"SIGKILL {victim.Name} + restart", loop.Outcomes, t, Now()));
                    notes.Add($"SIGKILL: HAProxy marked {victim.Name} DOWN {down.TotalSeconds:F1} s after the kill; restarted and UP again");

                    // Rolling restart: SIGTERM one replica at a time; each drains and exits 0, then a new one takes its port.
                    t = Now();
                    foreach (var r in replicas)
                    {
                        log.WriteLine($"loadtest: SIGTERM {r.Name} (rolling restart)");
                        Signals.Send(r.Process!, Signals.Term);
                        var code = await r.WaitExitAsync(TimeSpan.FromSeconds(o.DrainTimeoutSeconds + 20));
                        if (code != 0) failures.Add($"{r.Name} exited with {code} after SIGTERM (expected 0 after draining)");
                        r.Start();
                        await r.WaitHealthyAsync(http, startup);
                        await lb.WaitStatusAsync(http, r.Name, "UP", TimeSpan.FromSeconds(30));
                    }
                    windows.Add(WindowStats.Of("rolling SIGTERM restart", loop.Outcomes, t, Now()));
                    notes.Add($"rolling restart: {replicas.Count} replicas drained and exited 0 one at a time, each replaced and UP before the next");

                    // SIGSTOP: frozen for FreezeSeconds; its requests time out in HAProxy and are retried elsewhere.
                    var frozen = replicas[Math.Min(1, replicas.Count - 1)];
                    log.WriteLine($"loadtest: SIGSTOP {frozen.Name} for {o.FreezeSeconds} s");
                    t = Now();
                    Signals.Send(frozen.Process!, Signals.Stop);
                    TimeSpan? frozenDown = null;
                    try { frozenDown = await lb.WaitStatusAsync(http, frozen.Name, "DOWN", TimeSpan.FromSeconds(o.FreezeSeconds)); }
                    catch (TimeoutException) { }
                    var remaining = TimeSpan.FromSeconds(o.FreezeSeconds) - TimeSpan.FromSeconds(Now() - t);
                    if (remaining > TimeSpan.Zero) await Task.Delay(remaining, cancel);
                    Signals.Send(frozen.Process!, Signals.Cont);
                    var rejoin = await lb.WaitStatusAsync(http, frozen.Name, "UP", TimeSpan.FromSeconds(30));
                    windows.Add(WindowStats.Of($"SIGSTOP {frozen.Name} {o.FreezeSeconds:F0} s + SIGCONT", loop.Outcomes, t, Now()));
                    notes.Add(frozenDown is { } fd
                        ? $"SIGSTOP: {frozen.Name} DOWN in HAProxy after {fd.TotalSeconds:F1} s; UP again {rejoin.TotalSeconds:F1} s after SIGCONT"
                        : $"SIGSTOP: {frozen.Name} was not marked DOWN within {o.FreezeSeconds} s");
                    if (frozenDown is null) failures.Add($"HAProxy did not mark the frozen replica {frozen.Name} DOWN");
                }
                finally
                {
                    stop.Cancel();
                    await load;
                }
            }

            // Overload: far more clients than permits; 429s come back at once, nothing hangs.
            log.WriteLine($"loadtest: overload with {o.OverloadClients} clients ({o.Replicas} x {o.MaxConcurrentRequests} permits)");
            loop.Allow429 = true;
            var to = Now();
            using (var stop = new CancellationTokenSource(phase)) await loop.RunAsync(o.OverloadClients, stop.Token);
            var overload = WindowStats.Of($"overload ({o.OverloadClients} clients)", loop.Outcomes, to, Now());
            windows.Add(overload);
            notes.Add($"overload: {overload.TooMany} answered 429 (p99 {overload.P99TooMany:F0} ms), {overload.Ok} answered 200, slowest {overload.Max:F0} ms");
            if (overload.TooMany == 0) failures.Add("overload produced no 429: raise --overload-clients");
            loop.Allow429 = false;

            // Recovery: the steady load again, 0 errors.
            var tr = Now();
            using (var stop = new CancellationTokenSource(phase)) await loop.RunAsync(o.Clients, stop.Token);
            windows.Add(WindowStats.Of($"recovery ({o.Clients} clients)", loop.Outcomes, tr, Now()));

            foreach (var w in windows.Where(w => w.Errors > 0))
                failures.Add($"{w.Name}: {w.Errors} errors, e.g. {string.Join(" | ", w.FirstErrors)}");
            foreach (var w in windows.Where(w => w.Ok == 0))
                failures.Add($"{w.Name}: no request succeeded");
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= onExit;
            foreach (var r in replicas) r.Cleanup();
            lb.Dispose();
        }
        return new FaultRunReport(windows, notes, failures, runDir);
    }

    /// <summary>The library's vectors for <see cref="Sentences"/>: the real CLI, <c>embed --normalize --json</c> (as /embed: mean pooling, normalized).</summary>
    private static List<float[]> ExpectedVectors(FaultRunOptions o)
    {
        var start = new ProcessStartInfo(Replica.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(o.TorchbertDll);
        start.ArgumentList.Add("embed");
        start.ArgumentList.Add("--normalize");
        start.ArgumentList.Add("--json");
        if (o.Model is not null) { start.ArgumentList.Add("--model"); start.ArgumentList.Add(o.Model); }
        foreach (var s in Sentences) start.ArgumentList.Add(s);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"torchbert embed failed ({p.ExitCode}): {err.Result}");
        return JsonSerializer.Deserialize<List<float[]>>(output) ?? throw new InvalidOperationException("torchbert embed printed no JSON");
    }
}
