using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace TorchBert.Bench;

/// <summary>What one closed-loop run got back.</summary>
/// <param name="Sent">requests sent (each got an answer, an error or a timeout)</param>
/// <param name="Ok">2xx answers</param>
/// <param name="Rejected">429 answers (the server was full)</param>
/// <param name="Failed">other statuses and transport errors</param>
/// <param name="TimedOut">requests with no answer within the per-request timeout (a hang)</param>
/// <param name="Sentences">inputs answered with 2xx</param>
/// <param name="OkLatenciesMs">client-side latency of each 2xx answer</param>
/// <param name="RejectedLatenciesMs">client-side latency of each 429</param>
/// <param name="Seconds">from the first send to the last answer</param>
/// <param name="MaxInFlight">most requests outstanding at once (never above the concurrency)</param>
/// <param name="Failures">the failures by kind: <c>HTTP 503</c>, or the exception's type name</param>
public sealed record LoadResult(
    int Sent, int Ok, int Rejected, int Failed, int TimedOut, long Sentences,
    IReadOnlyList<double> OkLatenciesMs, IReadOnlyList<double> RejectedLatenciesMs, double Seconds, int MaxInFlight,
    IReadOnlyDictionary<string, int> Failures)
{
    /// <summary>The failures as <c>kind×count</c>, e.g. <c>HTTP 500×2</c>; empty when none.</summary>
    public string FailureSummary => string.Join(", ", Failures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}×{f.Value}"));

    public double RequestsPerSecond => Seconds > 0 ? Ok / Seconds : 0;
    public double SentencesPerSecond => Seconds > 0 ? Sentences / Seconds : 0;
    public double P50 => OkLatenciesMs.Count > 0 ? Stats.Percentile(OkLatenciesMs, 50) : double.NaN;
    public double P99 => OkLatenciesMs.Count > 0 ? Stats.Percentile(OkLatenciesMs, 99) : double.NaN;
    public double MaxLatency => OkLatenciesMs.Concat(RejectedLatenciesMs).DefaultIfEmpty(double.NaN).Max();
}

/// <summary>
/// A closed-loop HTTP load generator: <c>concurrency</c> workers each send a request, wait for its answer, and send the
/// next, until <c>maxRequests</c> have been sent or <c>maxDuration</c> has passed (requests already sent still finish).
/// Every request is accounted for exactly once: 2xx, 429, another failure, or a timeout. Requests cycle through
/// <c>inputs</c>; each is POSTed as TEI's <c>{"inputs": ...}</c> (a string, or an array for several inputs).
/// </summary>
public sealed class LoadGenerator(HttpClient client, Uri url, TimeSpan requestTimeout)
{
    public async Task<LoadResult> RunAsync(IReadOnlyList<IReadOnlyList<string>> inputs, int concurrency, int maxRequests, TimeSpan maxDuration)
    {
        if (inputs.Count == 0) throw new ArgumentException("no inputs", nameof(inputs));
        if (concurrency < 1) throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "must be >= 1");
        if (maxRequests < 1) throw new ArgumentOutOfRangeException(nameof(maxRequests), maxRequests, "must be >= 1");
        var bodies = inputs.Select(Body).ToArray();
        var gate = new Lock();
        var (ok, rejected) = (new List<double>(), new List<double>());
        var failures = new Dictionary<string, int>();
        void Fail(string kind) { lock (gate) failures[kind] = failures.GetValueOrDefault(kind) + 1; }
        int next = -1, sent = 0, failed = 0, timedOut = 0, inFlight = 0, maxInFlight = 0;
        long sentences = 0;
        var clock = Stopwatch.StartNew();

        async Task Worker()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= maxRequests || clock.Elapsed >= maxDuration) return;
                var k = i % bodies.Length;
                Interlocked.Increment(ref sent);
                var now = Interlocked.Increment(ref inFlight);
                lock (gate) maxInFlight = Math.Max(maxInFlight, now);
                var start = Stopwatch.GetTimestamp();
                using var timeout = new CancellationTokenSource(requestTimeout);
                try
                {
                    using var content = new ByteArrayContent(bodies[k]);
                    content.Headers.ContentType = new("application/json");
                    using var response = await client.PostAsync(url, content, timeout.Token).ConfigureAwait(false);
                    await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                    var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    lock (gate)
                    {
                        if (response.IsSuccessStatusCode) { ok.Add(ms); sentences += inputs[k].Count; }
                        else if (response.StatusCode == HttpStatusCode.TooManyRequests) rejected.Add(ms);
                        else failed++;
                    }
                    if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.TooManyRequests) Fail($"HTTP {(int)response.StatusCode}");
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    Interlocked.Increment(ref timedOut);
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
                {
                    Interlocked.Increment(ref failed);
                    Fail(e.GetType().Name);
                }
                finally
                {
                    Interlocked.Decrement(ref inFlight);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker))).ConfigureAwait(false);
        var seconds = clock.Elapsed.TotalSeconds;
        return new LoadResult(sent, ok.Count, rejected.Count, failed, timedOut, sentences, ok, rejected, seconds, maxInFlight, failures);
    }

    /// <summary>TEI's request body: <c>{"inputs":"text"}</c> for one input, <c>{"inputs":["a","b"]}</c> for several.</summary>
    public static byte[] Body(IReadOnlyList<string> texts)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            if (texts.Count == 1) w.WriteString("inputs", texts[0]);
            else
            {
                w.WriteStartArray("inputs");
                foreach (var t in texts) w.WriteStringValue(t);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}
