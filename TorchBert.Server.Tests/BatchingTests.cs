using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using TorchBert.Loading;
using TorchBert.Pipelines;
using TorchBert.Server;
using TorchBert.Serving;
using TorchBert.Tokenization;

namespace TorchBert.Server.Tests;

/// <summary>The queue's batching rules, with a runner that records what it was given (no model: deterministic).</summary>
public sealed class QueueTests
{
    private sealed class Recorder : IRowRunner
    {
        public readonly List<int[]> Batches = [];
        public readonly ManualResetEventSlim Gate = new(true);
        public IReadOnlyList<object> Forward(IReadOnlyList<BertEncoding> rows)
        {
            Gate.Wait();
            lock (Batches) Batches.Add(rows.Select(r => r.Length).ToArray());
            return rows.Select(r => (object)r.Length).ToList();
        }
    }

    private static readonly BertTokenizer Tokenizer = TokenizerLoader.ForModel(TestModels.Mlm);
    private static BertEncoding Row(int tokens) => Tokenizer.EncodeIds(Enumerable.Repeat(1000L, tokens).ToArray());

    [Fact]
    public async Task Waiting_entries_form_one_batch_up_to_the_token_budget_and_request_cap()
    {
        var runner = new Recorder();
        using var queue = new InferenceQueue("t", new BatchingOptions { MaxBatchTokens = 40, MaxBatchRequests = 3 });
        runner.Gate.Reset();
        var first = new QueueEntry([Row(5)], runner);
        queue.Enqueue(first);                                   // the worker takes it and blocks in Forward
        SpinWait.SpinUntil(() => queue.Count == 0);
        // queued while the worker is busy: padded tokens 10×1, 10×2, 10×3 = 30 ≤ 40, then the request cap (3) stops it
        var waiting = new[] { 10, 8, 6, 4, 20 }.Select(n => new QueueEntry([Row(n)], runner)).ToList();
        queue.EnqueueAll(waiting);
        runner.Gate.Set();
        await Task.WhenAll(waiting.Select(e => e.Result));
        runner.Batches.Select(b => b.Length).Should().Equal(1, 3, 2);
        runner.Batches[1].Should().Equal(10, 8, 6);
        // 4 and 20: padded 20 × 2 = 40 ≤ 40
        runner.Batches[2].Should().Equal(4, 20);
        (await waiting[4].Result).Should().Equal(20);
    }

    [Fact]
    public async Task Token_budget_splits_batches_and_a_lone_long_entry_still_runs()
    {
        var runner = new Recorder();
        using var queue = new InferenceQueue("t", new BatchingOptions { MaxBatchTokens = 30 });
        runner.Gate.Reset();
        queue.Enqueue(new QueueEntry([Row(2)], runner));
        SpinWait.SpinUntil(() => queue.Count == 0);
        var waiting = new[] { 10, 10, 10, 40 }.Select(n => new QueueEntry([Row(n)], runner)).ToList();
        queue.EnqueueAll(waiting);
        runner.Gate.Set();
        await Task.WhenAll(waiting.Select(e => e.Result));
        runner.Batches.Skip(1).Select(b => b.Length).Should().Equal(3, 1);
    }

    [Fact]
    public async Task Entries_whose_caller_went_away_are_dropped_before_compute()
    {
        var runner = new Recorder();
        using var queue = new InferenceQueue("t");
        runner.Gate.Reset();
        queue.Enqueue(new QueueEntry([Row(3)], runner));
        SpinWait.SpinUntil(() => queue.Count == 0);
        using var gone = new CancellationTokenSource();
        var dropped = new QueueEntry([Row(7)], runner, gone.Token);
        var kept = new QueueEntry([Row(9)], runner);
        queue.EnqueueAll([dropped, kept]);
        gone.Cancel();
        runner.Gate.Set();
        (await kept.Result).Should().Equal(9);
        await FluentActions.Awaiting(() => dropped.Result).Should().ThrowAsync<OperationCanceledException>();
        runner.Batches.SelectMany(b => b).Should().NotContain(7);
    }

    [Fact]
    public async Task Close_finishes_what_is_queued_and_refuses_the_rest()
    {
        var runner = new Recorder();
        var queue = new InferenceQueue("t");
        runner.Gate.Reset();
        var entries = Enumerable.Range(1, 5).Select(n => new QueueEntry([Row(n)], runner)).ToList();
        queue.EnqueueAll(entries);
        var closing = queue.CloseAsync();
        FluentActions.Invoking(() => queue.Enqueue(new QueueEntry([Row(1)], runner))).Should().Throw<QueueClosedException>();
        runner.Gate.Set();
        await closing;
        entries.Should().OnlyContain(e => e.Result.IsCompletedSuccessfully);
        queue.Dispose();
    }

    [Fact]
    public void Permits_are_taken_all_or_none()
    {
        var permits = new Permits(5);
        using var three = permits.TryAcquire(3);
        three.Should().NotBeNull();
        permits.TryAcquire(3).Should().BeNull();
        permits.Available.Should().Be(2);
        using (permits.TryAcquire(2)) permits.Available.Should().Be(0);
        permits.Available.Should().Be(2);
    }
}

/// <summary>A real Kestrel on 127.0.0.1 (port 0) with the embedded MiniLM: batching across requests, 429, disconnects, the OpenAI SDK.</summary>
public sealed class KestrelTests
{
    private static readonly string[] Texts =
    [
        "short", "a somewhat longer sentence about the weather today", "Paris is the capital of France.",
        "The quick brown fox jumps over the lazy dog while the cat watches from the window sill.", "hello world", "tokens",
    ];

    [Fact]
    public async Task Concurrent_requests_share_batches_and_each_gets_what_the_library_gives_it_alone()
    {
        await using var server = await TorchBertServer.StartAsync(new ServerOptions { Hostname = "127.0.0.1", Port = 0 });
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        using var library = SentenceEmbeddingPipeline.FromPretrained(TestModels.MiniLM);
        var expected = Texts.Select(t => library.Run(t)).ToArray();
        var batchesBefore = server.State.Default.Queue.Batches;

        // 24 single-text requests at once, texts of different lengths: answered from shared, padded batches
        var calls = Enumerable.Range(0, 24).Select(async i =>
        {
            var response = await client.PostAsJsonAsync("/embed", new { inputs = Texts[i % Texts.Length] });
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            json[0].Floats().ShouldEqual(expected[i % Texts.Length]);
        }).ToList();
        await Task.WhenAll(calls);
        // a 32-input request is queued at once and computed as one mixed-length batch
        var big = await client.PostAsJsonAsync("/embed", new { inputs = Enumerable.Range(0, 32).Select(i => Texts[i % Texts.Length]).ToArray() });
        var rows = JsonDocument.Parse(await big.Content.ReadAsStringAsync()).RootElement;
        for (int i = 0; i < 32; i++) rows[i].Floats().ShouldEqual(expected[i % Texts.Length]);
        (server.State.Default.Queue.Batches - batchesBefore).Should().BeLessThan(25, "the 32 inputs of one request share a forward");
    }

    [Fact]
    public async Task No_free_permit_is_429_at_once_and_a_client_that_leaves_does_not_break_the_server()
    {
        await using var server = await TorchBertServer.StartAsync(new ServerOptions { Hostname = "127.0.0.1", Port = 0, MaxConcurrentRequests = 4 });
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        // one permit per input: 5 inputs can never fit 4 permits
        var response = await client.PostAsJsonAsync("/embed", new { inputs = new[] { "a", "b", "c", "d", "e" } });
        response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        json.GetProperty("error").GetString().Should().Be("Model is overloaded");
        json.GetProperty("error_type").GetString().Should().Be("Overloaded");
        (await client.PostAsJsonAsync("/embed", new { inputs = new[] { "a", "b", "c", "d" } })).StatusCode.Should().Be(HttpStatusCode.OK);
        (await client.GetStringAsync("/metrics")).Should().Contain("te_request_failure{err=\"overloaded\"} 1");

        // clients that give up mid-request: their entries are dropped or answered into the void; permits come back
        for (int i = 0; i < 4; i++)
        {
            using var cts = new CancellationTokenSource();
            var call = client.PostAsJsonAsync("/embed", new { inputs = new[] { Texts[3], Texts[3], Texts[3], Texts[3] } }, cts.Token);
            cts.Cancel();
            try { await call; } catch (OperationCanceledException) { }
        }
        // A cancelled request can still reach the server after the loop (the client gave up while sending it) and hold
        // permits while it runs; what must hold is that every permit comes back and the server answers again.
        var status = HttpStatusCode.TooManyRequests;
        for (var deadline = DateTime.UtcNow.AddSeconds(180); status == HttpStatusCode.TooManyRequests && DateTime.UtcNow < deadline;)
        {
            SpinWait.SpinUntil(() => server.State.Permits.Available == 4, TimeSpan.FromSeconds(180)).Should().BeTrue("every permit is released");
            status = (await client.PostAsJsonAsync("/embed", new { inputs = new[] { "still", "works" } })).StatusCode;
            if (status == HttpStatusCode.TooManyRequests) await Task.Delay(50);
        }
        status.Should().Be(HttpStatusCode.OK);
        SpinWait.SpinUntil(() => server.State.Permits.Available == 4, TimeSpan.FromSeconds(180)).Should().BeTrue("no permit leaks");
    }

    [Fact]
    public async Task Api_key_guards_inference_routes_but_not_health_or_metrics()
    {
        await using var server = await TorchBertServer.StartAsync(new ServerOptions { Hostname = "127.0.0.1", Port = 0, ApiKey = "s3cret" });
        using var client = new HttpClient { BaseAddress = server.BaseAddress };
        (await client.PostAsJsonAsync("/embed", new { inputs = "a" })).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await client.GetAsync("/health")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await client.GetAsync("/metrics")).StatusCode.Should().Be(HttpStatusCode.OK);
        var bad = new HttpRequestMessage(HttpMethod.Post, "/v1/embeddings") { Content = JsonContent.Create(new { input = "a" }) };
        bad.Headers.Authorization = new("Bearer", "wrong");
        var badResponse = await client.SendAsync(bad);
        badResponse.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        JsonDocument.Parse(await badResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString().Should().Be("invalid_api_key");
        var good = new HttpRequestMessage(HttpMethod.Post, "/embed") { Content = JsonContent.Create(new { inputs = "a" }) };
        good.Headers.Authorization = new("Bearer", "s3cret");
        (await client.SendAsync(good)).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_official_OpenAI_SDK_through_IEmbeddingGenerator_gets_the_librarys_vectors()
    {
        await using var server = await TorchBertServer.StartAsync(new ServerOptions { Hostname = "127.0.0.1", Port = 0, ApiKey = "sk-local" });
        var client = new OpenAIClient(new System.ClientModel.ApiKeyCredential("sk-local"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });
        IEmbeddingGenerator<string, Embedding<float>> generator = client.GetEmbeddingClient(server.State.Default.Name).AsIEmbeddingGenerator();
        var result = await generator.GenerateAsync(Texts.Take(3));
        using var library = SentenceEmbeddingPipeline.FromPretrained(TestModels.MiniLM);
        result.Should().HaveCount(3);
        for (int i = 0; i < 3; i++) result[i].Vector.ToArray().ShouldEqual(library.Run(Texts[i]));
        result.Usage!.InputTokenCount.Should().Be(Texts.Take(3).Sum(t => library.Tokenizer.Encode(t).Length));
    }

    [Fact]
    public async Task Draining_turns_health_503_and_refuses_new_requests()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions());
        (await server.Client.GetAsync("/health")).StatusCode.Should().Be(HttpStatusCode.OK);
        server.State.Draining = true;
        var health = await server.Client.GetAsync("/health");
        health.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await health.Content.ReadAsStringAsync()).Should().Be("""{"error":"unhealthy","error_type":"Unhealthy"}""");
        var (status, json, _) = await server.Client.PostAsync("/embed", """{"inputs": "a"}""");
        status.Should().Be(HttpStatusCode.ServiceUnavailable);
        json.GetProperty("error_type").GetString().Should().Be("Unhealthy");
    }
}

/// <summary>The real <c>torchbert serve</c> process: SIGTERM drains and exits 0; a model that fails to load is one stderr line and exit ≠ 0.</summary>
public sealed class ProcessTests
{
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [Fact]
    public async Task Sigterm_finishes_every_accepted_request_and_exits_0()
    {
        var port = CliProcess.FreePort();
        using var process = CliProcess.Start("serve", "--port", port.ToString(), "--hostname", "127.0.0.1", "--drain-timeout", "60");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(2) };
            var up = false;
            for (int i = 0; i < 600 && !up && !process.HasExited; i++)
            {
                try { up = (await client.GetAsync("/health")).StatusCode == HttpStatusCode.OK; } catch (HttpRequestException) { await Task.Delay(100); }
            }
            up.Should().BeTrue($"the server came up: {await Describe(process, stderr)}");

            // 6 requests of 16 inputs each, accepted (counted by the server) before SIGTERM; most are still queued after it
            var text = string.Join(' ', Enumerable.Repeat("drain the queue before exiting", 8));
            var calls = Enumerable.Range(0, 6).Select(_ => client.PostAsJsonAsync("/embed", new { inputs = Enumerable.Repeat(text, 16).ToArray() })).ToList();
            for (int i = 0; i < 600; i++)
            {
                var metrics = await client.GetStringAsync("/metrics");
                if (metrics.Contains("te_request_count{method=\"batch\"} 6")) break;
                await Task.Delay(50);
            }
            kill(process.Id, 15).Should().Be(0);
            var responses = await Task.WhenAll(calls);
            foreach (var r in responses)
            {
                r.StatusCode.Should().Be(HttpStatusCode.OK);
                JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetArrayLength().Should().Be(16);
            }
            process.WaitForExit(TimeSpan.FromMinutes(2)).Should().BeTrue();
            process.ExitCode.Should().Be(0, await Describe(process, stderr));
            (await stdout).Should().Contain("Draining").And.Contain("Stopped");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task A_model_that_fails_to_load_is_one_line_on_stderr_and_exit_1()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"torchbert-no-such-model-{Guid.NewGuid():N}");
        Directory.CreateDirectory(missing);
        try
        {
            using var process = CliProcess.Start("serve", "--model", missing, "--port", CliProcess.FreePort().ToString(), "--hostname", "127.0.0.1");
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            process.WaitForExit(TimeSpan.FromMinutes(2)).Should().BeTrue();
            process.ExitCode.Should().NotBe(0);
            var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            lines.Should().ContainSingle().Which.Should().StartWith("torchbert: error:").And.Contain(missing);
            await stdout;
        }
        finally { Directory.Delete(missing, true); }
    }

    private static async Task<string> Describe(Process p, Task<string> stderr) =>
        p.HasExited ? $"exit {p.ExitCode}: {await stderr}" : "still running";
}
