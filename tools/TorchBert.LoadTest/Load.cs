using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace TorchBert.LoadTest;

/// <summary>One request of the load: when it started and ended (seconds since the run's clock started), and how it went.</summary>
internal readonly record struct Outcome(double Start, double End, int Status, string? Error)
{
    public double Milliseconds => (End - Start) * 1000;
}

/// <summary>
/// Closed-loop load on <c>POST /embed</c>: each client sends one sentence, waits for the answer, checks it (200 and the
/// library's vector within the tolerance; or 429 when <see cref="Allow429"/>), records it, and sends the next.
/// </summary>
internal sealed class ClosedLoop(HttpClient http, string url, IReadOnlyList<string> sentences, IReadOnlyList<float[]> expected, Stopwatch clock)
{
    public const double Tolerance = 1e-4;
    public ConcurrentQueue<Outcome> Outcomes { get; } = new();
    public bool Allow429 { get; set; }
    private int next;

    /// <summary>Runs <paramref name="clients"/> clients until <paramref name="stop"/> is cancelled; in-flight requests finish.</summary>
    public Task RunAsync(int clients, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(() => Client(stop))));

    private async Task Client(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var i = (int)((uint)Interlocked.Increment(ref next) % (uint)sentences.Count);
            var body = JsonSerializer.Serialize(new { inputs = sentences[i] });
            var start = clock.Elapsed.TotalSeconds;
            int status = 0;
            string? error = null;
            try
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(url, content);
                status = (int)response.StatusCode;
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK) error = Check(text, expected[i]);
                else if (!(Allow429 && response.StatusCode == HttpStatusCode.TooManyRequests)) error = $"HTTP {status}: {Trim(text)}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                error = $"{e.GetType().Name}: {e.Message}";
            }
            Outcomes.Enqueue(new Outcome(start, clock.Elapsed.TotalSeconds, status, error));
            if (status == 429) await Task.Delay(20, CancellationToken.None);   // a client backs off a little after 429
        }
    }

    private static string Trim(string s) => s.Length > 200 ? s[..200] + "..." : s;

    /// <summary>null when <paramref name="json"/> is <c>[[...]]</c> equal to <paramref name="want"/> within <see cref="Tolerance"/>.</summary>
    internal static string? Check(string json, float[] want)
    {
        float[][]? got;
        try { got = JsonSerializer.Deserialize<float[][]>(json); }
        catch (JsonException e) { return $"not an embedding response: {e.Message}"; }
        if (got is not { Length: 1 } || got[0].Length != want.Length) return $"wrong shape: {Trim(json)}";
        for (int d = 0; d < want.Length; d++)
            if (Math.Abs(got[0][d] - want[d]) > Tolerance) return $"wrong value at {d}: {got[0][d]} vs {want[d]}";
        return null;
    }
}

/// <summary>Figures of one window of the run.</summary>
internal sealed record WindowStats(string Name, int Requests, int Ok, int TooMany, int Errors, double P50, double P99, double Max, double P99TooMany, IReadOnlyList<string> FirstErrors)
{
    public static WindowStats Of(string name, IEnumerable<Outcome> all, double from, double to)
    {
        var w = all.Where(o => o.Start >= from && o.Start < to).ToList();
        var ms = w.Select(o => o.Milliseconds).Order().ToList();
        var tooMany = w.Where(o => o.Status == 429 && o.Error is null).Select(o => o.Milliseconds).Order().ToList();
        return new WindowStats(name, w.Count, w.Count(o => o.Status == 200 && o.Error is null), tooMany.Count, w.Count(o => o.Error is not null),
            Percentile(ms, 0.50), Percentile(ms, 0.99), ms.Count == 0 ? 0 : ms[^1], Percentile(tooMany, 0.99),
            w.Where(o => o.Error is not null).Select(o => o.Error!).Distinct().Take(5).ToList());
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
