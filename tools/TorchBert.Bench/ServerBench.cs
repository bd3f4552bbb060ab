using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TorchBert.Pipelines;
using TorchBert.Server;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// <c>torchbert serve</c> under load: the real server (TorchBert.Server's host: Kestrel on 127.0.0.1, a free port) on the
/// embedded all-MiniLM-L6-v2, driven over loopback HTTP by a closed-loop <see cref="LoadGenerator"/> posting TEI's
/// <c>/embed</c>. Measures single short sentences at concurrency 1, 8, 32, 64 and a mixed-length set; dynamic batching
/// vs the same server with <c>--max-batch-requests 1</c> at concurrency 32 (target ≥ 3×); the server at concurrency 32
/// vs the in-process sentence-embedding pipeline on the same sentences in batches of 32 (target ≥ 0.8×); 429s at
/// concurrency 64 against 8 permits (and that nothing hangs); process memory before and after the load. The ratios are
/// medians over interleaved rounds (A, B, C, A, B, C, ...) so a change in machine load hits every side alike.
/// </summary>
public sealed class ServerBench(BenchOptions options, Report report, string modelDir)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(120);

    public Dictionary<string, double> Run() => RunAsync().GetAwaiter().GetResult();

    private async Task<Dictionary<string, double>> RunAsync()
    {
        var quick = options.Quick;
        var window = TimeSpan.FromSeconds(quick ? 8 : 20);
        report.Section("server", $"torchbert serve (Kestrel on loopback, {DefaultModel.Name}) under closed-loop HTTP load, POST /embed");
        report.Line($"  client: HttpClient, closed loop, one input per request; each case at most {window.TotalSeconds:F0} s; load average {Machine.LoadAverage()}");
        var shortSet = Corpus.Lines(512, 1, seed: 5).Select(s => (IReadOnlyList<string>)[s]).ToList();
        var mixedSet = Corpus.Lines(512, 8, seed: 11).Select(s => (IReadOnlyList<string>)[s]).ToList();
        var ratios = new Dictionary<string, double>();
        var mem = new JsonObject();

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, UseProxy = false }) { Timeout = Timeout.InfiniteTimeSpan };
        var memBefore = Memory.Now();
        await using var batched = await BenchServer.StartAsync(new ServerOptions { Hostname = "127.0.0.1", Port = 0, Device = "cpu", DrainTimeoutSeconds = 5 });
        var memStarted = Memory.Now();
        var embed = new LoadGenerator(http, new Uri(batched.BaseAddress, "embed"), RequestTimeout);
        await embed.RunAsync(shortSet, 8, 32, window); // JIT, connections, allocator

        // 1. throughput and latency by concurrency
        var cases = new JsonObject();
        report.Line($"  {"case",-28} {"req/s",8} {"sent/s",8} {"p50 ms",8} {"p99 ms",8} {"ok",6} {"429",5} {"err",4} {"batches",8}");
        foreach (var c in new[] { 1, 8, 32, 64 })
            cases[$"short_c{c}"] = await Case($"short sentence, c={c}", embed, batched, shortSet, c, Bound(c), window);
        cases["mixed_c32"] = await Case("mixed lengths, c=32", embed, batched, mixedSet, 32, Bound(32), window);
        report.Value("cases", cases);
        var memAfterCases = Memory.Now();

        // 1b. sustained load on this one server: the same mixed load round after round, memory after each round.
        // "Flat" = what the first round leaves (connection buffers, arenas, GC heap at this concurrency) does not keep growing.
        var sustained = int.TryParse(Environment.GetEnvironmentVariable("BENCH_SUSTAINED_ROUNDS"), out var sr) ? sr : quick ? 5 : 10;
        var series = new List<Memory>();
        var served = 0L;
        for (var r = 0; r < sustained; r++)
        {
            var rs = await embed.RunAsync(r % 2 == 0 ? mixedSet : shortSet, 32, int.MaxValue, window);
            served += rs.Ok;
            series.Add(Memory.Now());
        }
        var growth = (series[^1].WorkingSet - series[0].WorkingSet) / 1e6;
        var growthPrivate = (series[^1].Private - series[0].Private) / 1e6;
        report.Line($"  sustained load, one server, c=32 mixed/short alternating, {sustained} rounds of {window.TotalSeconds:F0} s ({served} requests): working set after each round (MB) " +
            string.Join(" ", series.Select(m => $"{m.WorkingSet / 1e6:F0}")) + "; private " + string.Join(" ", series.Select(m => $"{m.Private / 1e6:F0}"))
            + "; managed heap " + string.Join(" ", series.Select(m => $"{m.ManagedHeap / 1e6:F0}")));
        report.Line($"    growth from round 1 to round {sustained}: working set {growth:+0;-0} MB, private {growthPrivate:+0;-0} MB");
        ratios["server_memory_growth_after_round1_mb"] = growth;
        mem["sustained_rounds"] = new JsonArray([.. series.Select(m => (JsonNode?)m.ToJson())]);

        // 2. interleaved rounds: batched server, unbatched server (--max-batch-requests 1), in-process pipeline
        await using var unbatched = await BenchServer.StartAsync(new ServerOptions { Hostname = "127.0.0.1", Port = 0, Device = "cpu", DrainTimeoutSeconds = 5, MaxBatchRequests = 1 });
        var plain = new LoadGenerator(http, new Uri(unbatched.BaseAddress, "embed"), RequestTimeout);
        await plain.RunAsync(shortSet, 8, 32, window);
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(modelDir, new PipelineOptions { Device = CPU, BatchSize = 32 });
        var sentences = shortSet.Select(s => s[0]).ToList();
        pipe.Run(sentences.Take(64).ToList());
        var (b, u, p, p1) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        var rounds = quick ? 3 : 5;
        report.Line($"  c=32 short sentences, {rounds} interleaved rounds (sentences/s): batched server | --max-batch-requests 1 | in-process pipeline, batches of 32 | in-process, one sentence per call");
        for (var r = 0; r < rounds; r++)
        {
            var rb = await embed.RunAsync(shortSet, 32, Bound(32), window);
            var ru = await plain.RunAsync(shortSet, 32, Bound(32), window);
            var n = Math.Max(64, rb.Ok);
            var ms = Timer.Time(() => { foreach (var chunk in Enumerable.Range(0, n).Select(i => sentences[i % sentences.Count]).Chunk(32)) pipe.Run(chunk); });
            var rp = n / (ms / 1000);
            // The compute ceiling of batching: the same pipeline one sentence per call (what the unbatched server runs).
            var n1 = Math.Max(32, ru.Ok);
            var ms1 = Timer.Time(() => { for (var i = 0; i < n1; i++) pipe.Run([sentences[i % sentences.Count]]); });
            var rp1 = n1 / (ms1 / 1000);
            b.Add(rb.SentencesPerSecond); u.Add(ru.SentencesPerSecond); p.Add(rp); p1.Add(rp1);
            report.Line($"    round {r + 1}: {rb.SentencesPerSecond,8:F1} | {ru.SentencesPerSecond,8:F1} (p50 {rb.P50:F0} vs {ru.P50:F0} ms) | {rp,8:F1} | {rp1,8:F1}  (errors {rb.Failed + ru.Failed + rb.TimedOut + ru.TimedOut}{Why(rb, ru)}, 429s {rb.Rejected + ru.Rejected})");
        }
        var batchingRatio = Stats.Median(b) / Stats.Median(u);
        var inprocRatio = Stats.Median(b) / Stats.Median(p);
        var ceiling = Stats.Median(p) / Stats.Median(p1);
        report.Line($"  batching vs --max-batch-requests 1 at c=32: {batchingRatio:F2}× (medians {Stats.Median(b):F1} vs {Stats.Median(u):F1} sentences/s; target ≥ 3×)");
        report.Line($"  server c=32 vs in-process pipeline (batches of 32): {inprocRatio:F2}× (medians {Stats.Median(b):F1} vs {Stats.Median(p):F1} sentences/s; target ≥ 0.8×)");
        report.Line($"  batching's compute ceiling here: in-process batches of 32 vs one sentence per call {ceiling:F2}× (medians {Stats.Median(p):F1} vs {Stats.Median(p1):F1} sentences/s): what batching gains in the pipeline itself on this model and CPU");
        ratios["server_batching_vs_unbatched_c32"] = batchingRatio;
        ratios["inprocess_batch32_vs_batch1"] = ceiling;
        ratios["server_vs_inprocess_c32"] = inprocRatio;
        report.Value("rounds", new JsonObject
        {
            ["batched_sentences_per_s"] = new JsonArray([.. b.Select(x => (JsonNode?)Math.Round(x, 2))]),
            ["unbatched_sentences_per_s"] = new JsonArray([.. u.Select(x => (JsonNode?)Math.Round(x, 2))]),
            ["inprocess_sentences_per_s"] = new JsonArray([.. p.Select(x => (JsonNode?)Math.Round(x, 2))]),
            ["inprocess_batch1_sentences_per_s"] = new JsonArray([.. p1.Select(x => (JsonNode?)Math.Round(x, 2))]),
            ["ratio_batching_vs_unbatched"] = Math.Round(batchingRatio, 3),
            ["ratio_server_vs_inprocess"] = Math.Round(inprocRatio, 3),
        });
        await unbatched.DisposeAsync();
        pipe.Dispose();

        // 3. back-pressure: 64 clients against 8 permits
        await using (var narrow = await BenchServer.StartAsync(new ServerOptions { Hostname = "127.0.0.1", Port = 0, Device = "cpu", DrainTimeoutSeconds = 5, MaxConcurrentRequests = 8 }))
        {
            var load = new LoadGenerator(http, new Uri(narrow.BaseAddress, "embed"), RequestTimeout);
            // time-bounded: clients retry at once after a 429, so the count only caps a runaway
            var r = await load.RunAsync(shortSet, 64, 100_000, TimeSpan.FromSeconds(quick ? 5 : 10));
            var p50Rejected = r.RejectedLatenciesMs.Count > 0 ? Stats.Median(r.RejectedLatenciesMs) : double.NaN;
            report.Line($"  --max-concurrent-requests 8 at c=64: {r.Sent} sent in {r.Seconds:F1} s (clients retry at once), {r.Ok} ok ({r.RequestsPerSecond:F1}/s), {r.Rejected} × 429 (median {p50Rejected:F1} ms), {r.Failed} other errors{Why(r)}, {r.TimedOut} hung (> {RequestTimeout.TotalSeconds:F0} s); slowest answer {r.MaxLatency:F0} ms");
            ratios["server_429_share_c64_permits8"] = r.Sent > 0 ? (double)r.Rejected / r.Sent : double.NaN;
            report.Value("overload", new JsonObject
            {
                ["permits"] = 8, ["concurrency"] = 64, ["sent"] = r.Sent, ["ok"] = r.Ok, ["rejected_429"] = r.Rejected,
                ["failed"] = r.Failed, ["timed_out"] = r.TimedOut, ["p50_429_ms"] = Math.Round(p50Rejected, 2),
                ["max_latency_ms"] = Math.Round(r.MaxLatency, 1), ["ok_per_s"] = Math.Round(r.RequestsPerSecond, 2),
            });
            ratios["server_hung_requests"] = r.TimedOut;
        }

        // 4. memory of this process (server, client and the pipeline all live here)
        var memAfter = Memory.Now();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Machine.TrimNativeHeap();
        var memTrimmed = Memory.Now();
        report.Line($"  process memory (server, client and pipeline share this process): before start {memBefore}; server up and warm {memStarted}; after its c=1..64 + mixed load {memAfterCases}");
        report.Line($"    at the end (after the unbatched server, the in-process pipeline and the 429 server came and went) {memAfter}; after GC + malloc_trim {memTrimmed}");
        report.Line($"  load average at the end of the section: {Machine.LoadAverage()}");
        mem["before_start"] = memBefore.ToJson();
        mem["server_up"] = memStarted.ToJson();
        mem["after_concurrency_cases"] = memAfterCases.ToJson();
        mem["end"] = memAfter.ToJson();
        mem["after_gc_trim"] = memTrimmed.ToJson();
        report.Value("memory", mem);
        report.Value("load_average_end", Machine.LoadAverage());
        return ratios;

        static string Why(params LoadResult[] rs) =>
            string.Join(", ", rs.Select(r => r.FailureSummary).Where(f => f.Length > 0)) is { Length: > 0 } w ? $": {w}" : "";

        int Bound(int c) => quick ? Math.Max(48, 12 * c) : Math.Max(200, 50 * c);
    }

    private async Task<JsonObject> Case(string name, LoadGenerator load, BenchServer server, IReadOnlyList<IReadOnlyList<string>> inputs, int concurrency, int maxRequests, TimeSpan window)
    {
        var batchesBefore = server.Batches;
        var r = await load.RunAsync(inputs, concurrency, maxRequests, window);
        var batches = server.Batches - batchesBefore;
        report.Line($"  {name,-28} {r.RequestsPerSecond,8:F1} {r.SentencesPerSecond,8:F1} {r.P50,8:F1} {r.P99,8:F1} {r.Ok,6} {r.Rejected,5} {r.Failed + r.TimedOut,4} {batches,8}{(r.Failed > 0 ? "  failures: " + r.FailureSummary : "")}");
        return new JsonObject
        {
            ["concurrency"] = concurrency, ["sent"] = r.Sent, ["ok"] = r.Ok, ["rejected_429"] = r.Rejected, ["failed"] = r.Failed,
            ["timed_out"] = r.TimedOut, ["failures"] = r.FailureSummary, ["seconds"] = Math.Round(r.Seconds, 3), ["req_per_s"] = Math.Round(r.RequestsPerSecond, 2),
            ["sentences_per_s"] = Math.Round(r.SentencesPerSecond, 2), ["p50_ms"] = Math.Round(r.P50, 2), ["p99_ms"] = Math.Round(r.P99, 2),
            ["forwards"] = batches, ["mean_inputs_per_forward"] = batches > 0 ? Math.Round((double)r.Sentences / batches, 2) : null,
        };
    }

    /// <summary>The real server host (<see cref="TorchBertServer.CreateState"/> + <see cref="TorchBertServer.Build"/>: Kestrel, every route) with its per-request log lines off.</summary>
    private sealed class BenchServer(WebApplication app, ServerState state, Uri address) : IAsyncDisposable
    {
        private bool disposed;

        public Uri BaseAddress { get; } = address;

        /// <summary>Forwards run by the default model's queue so far.</summary>
        public long Batches => state.Default.Queue.Batches;

        public static async Task<BenchServer> StartAsync(ServerOptions options)
        {
            var state = TorchBertServer.CreateState(options);
            try
            {
                var app = TorchBertServer.Build(state, b => b.Logging.ClearProviders());
                await app.StartAsync();
                var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
                var uri = new Uri(address + "/");
                if (!IPAddress.IsLoopback(IPAddress.Parse(uri.Host))) throw new InvalidOperationException($"the bench server listens on {uri}, not loopback");
                return new BenchServer(app, state, uri);
            }
            catch
            {
                state.Dispose();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (disposed) return;
            disposed = true;
            state.Draining = true;
            await app.StopAsync();
            await app.DisposeAsync();
            state.Dispose();
        }
    }

    /// <summary>This process's working set and private bytes.</summary>
    private readonly record struct Memory(long WorkingSet, long Private, long PeakWorkingSet, long ManagedHeap)
    {
        public static Memory Now()
        {
            using var self = Process.GetCurrentProcess();
            return new Memory(self.WorkingSet64, self.PrivateMemorySize64, Machine.ProcStatus("VmHWM"), GC.GetGCMemoryInfo().HeapSizeBytes);
        }

        public JsonObject ToJson() => new() { ["working_set_bytes"] = WorkingSet, ["private_bytes"] = Private, ["peak_working_set_bytes"] = PeakWorkingSet, ["managed_heap_bytes"] = ManagedHeap };

        public override string ToString() => $"WS {WorkingSet / 1e6:F0} MB / private {Private / 1e6:F0} MB";
    }
}
