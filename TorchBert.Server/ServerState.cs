using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TorchBert.Serving;
using TorchBert.Tokenization;

namespace TorchBert.Server;

/// <summary>The served models and everything requests share: permits, metrics, the draining flag.</summary>
public sealed class ServerState : IDisposable
{
    /// <summary>Loaded models, already started (see <see cref="TorchBertServer.LoadModels"/>).</summary>
    public ServerState(ServerOptions options, IReadOnlyList<ServedModel> models, ServerMetrics metrics)
    {
        if (models.Count == 0) throw new ArgumentException("no models to serve");
        Options = options;
        Models = models;
        Metrics = metrics;
        Permits = new Permits(options.MaxConcurrentRequests);
    }

    public ServerOptions Options { get; }
    public IReadOnlyList<ServedModel> Models { get; }
    public ServedModel Default => Models[0];
    public ServerMetrics Metrics { get; }
    public Permits Permits { get; }

    /// <summary>Set on SIGTERM: /health turns 503 and new inference requests are refused; queued work still finishes.</summary>
    public bool Draining { get; set; }

    /// <summary>200 on /health: not draining, and every model's last forward succeeded.</summary>
    public bool Healthy => !Draining && Models.All(m => m.Queue.Healthy);

    /// <summary>The model a request names (null = the default). With several models an unknown name is an error naming it.</summary>
    public ServedModel Pick(string? name, ILogger? log = null)
    {
        if (name is null) return Default;
        foreach (var m in Models) if (m.Name == name || m.Id == name) return m;
        if (Models.Count == 1)
        {
            // TEI serves one model and only warns.
            log?.LogWarning("The provided `model={Requested}` has not been found, the `model` parameter should be provided either empty or with `model={Served}` instead.", name, Default.Name);
            return Default;
        }
        throw new ApiException(ErrorKind.ModelNotFound, $"model `{name}` is not served here; served models: {string.Join(", ", Models.Select(m => m.Name))}", "model");
    }

    /// <summary>Closes every queue (finishing queued work) and frees the models.</summary>
    public void Dispose()
    {
        Task.WaitAll(Models.Select(m => m.Queue.CloseAsync()).ToArray());
        foreach (var m in Models) m.Dispose();
    }
}

/// <summary>One request's timings and counts (TEI's <c>ResponseMetadata</c>): the x-* headers and the log line.</summary>
internal sealed class CallTiming
{
    public long Start { get; } = Stopwatch.GetTimestamp();
    public int Inputs { get; set; }
    public long Characters { get; set; }
    public int Tokens { get; set; }
    public TimeSpan Tokenization { get; set; }
    public TimeSpan Queue { get; set; }
    public TimeSpan Inference { get; set; }
    public bool Computed { get; set; }
    /// <summary>The device the model runs on (TEI writes its backend here).</summary>
    public string ComputeType { get; set; } = "cpu";
    public TimeSpan Total => Stopwatch.GetElapsedTime(Start);

    public void WriteHeaders(HttpResponse r)
    {
        var total = ((long)Total.TotalMilliseconds).ToString();
        r.Headers["x-compute-type"] = ComputeType;
        r.Headers["x-compute-time"] = total;
        r.Headers["x-compute-characters"] = Characters.ToString();
        r.Headers["x-compute-tokens"] = Tokens.ToString();
        r.Headers["x-total-time"] = total;
        r.Headers["x-tokenization-time"] = ((long)Tokenization.TotalMilliseconds).ToString();
        r.Headers["x-queue-time"] = ((long)Queue.TotalMilliseconds).ToString();
        r.Headers["x-inference-time"] = ((long)Inference.TotalMilliseconds).ToString();
    }
}

/// <summary>The batching path every inference route takes: permits, tokenization here, the model's queue, the outputs.</summary>
internal static class Inference
{
    /// <summary>
    /// Takes one permit per input (none free: 429 at once), tokenizes each input on this thread, queues them on the
    /// model's queue (dropped there if <paramref name="aborted"/> fires first), and waits for each input's row outputs.
    /// </summary>
    public static async Task<IReadOnlyList<object>[]> RunAsync(ServerState state, ServedModel model, IRowRunner runner, int inputs,
        Func<int, IReadOnlyList<BertEncoding>> tokenize, CallTiming timing, CancellationToken aborted)
    {
        using var permits = state.Permits.TryAcquire(inputs);
        if (permits is null)
        {
            state.Metrics.RequestFailure.WithLabels("overloaded").Inc();
            throw new ApiException(ErrorKind.Overloaded, "Model is overloaded");
        }
        var t0 = Stopwatch.GetTimestamp();
        var entries = new QueueEntry[inputs];
        for (int i = 0; i < inputs; i++)
        {
            IReadOnlyList<BertEncoding> rows;
            try { rows = tokenize(i); }
            catch (ArgumentException e) when (e is not ArgumentNullException)
            {
                state.Metrics.RequestFailure.WithLabels("tokenization").Inc();
                throw new ApiException(ErrorKind.Validation, e.Message) { Counted = true };
            }
            foreach (var r in rows) { state.Metrics.InputLength.Observe(r.Length); timing.Tokens += r.Length; }
            entries[i] = new QueueEntry(rows, runner, aborted);
        }
        timing.Tokenization = Stopwatch.GetElapsedTime(t0) / Math.Max(inputs, 1);
        try { model.Queue.EnqueueAll(entries); }
        catch (QueueClosedException e) { throw new ApiException(ErrorKind.Unhealthy, e.Message); }
        var results = new IReadOnlyList<object>[inputs];
        try
        {
            for (int i = 0; i < inputs; i++) results[i] = await entries[i].Result.ConfigureAwait(false);
        }
        catch (OperationCanceledException) { throw; }
        catch (ArgumentException e)
        {
            state.Metrics.RequestFailure.WithLabels("validation").Inc();
            throw new ApiException(ErrorKind.Validation, e.Message) { Counted = true };
        }
        catch (Exception e)
        {
            state.Metrics.RequestFailure.WithLabels("inference").Inc();
            throw new ApiException(ErrorKind.Backend, $"Backend error: {e.Message}");
        }
        timing.Queue = TimeSpan.FromTicks((long)entries.Average(e => e.QueueTime.Ticks));
        timing.Inference = TimeSpan.FromTicks((long)entries.Average(e => e.InferenceTime.Ticks));
        timing.Computed = true;
        return results;
    }
}
