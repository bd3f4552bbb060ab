using System.Collections.Concurrent;
using Prometheus;
using TorchBert.Serving;

namespace TorchBert.Server;

/// <summary>
/// TEI's Prometheus metrics with TEI's names, labels and buckets (<c>router/src/prometheus.rs</c>, <c>core/src/infer.rs</c>,
/// <c>core/src/queue.rs</c>), in a registry of this server's own (several servers can live in one process).
/// </summary>
public sealed class ServerMetrics : IQueueObserver
{
    private readonly ConcurrentDictionary<object, int> queueSizes = new();

    /// <summary>A fresh registry; <paramref name="maxInputLength"/> bounds te_request_input_length's buckets as TEI does.</summary>
    public ServerMetrics(int maxInputLength)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        // TEI: 35 geometric buckets from 1.5e-5 s, ×1.5 each
        var duration = new double[35];
        var v = 0.00001;
        for (int i = 0; i < duration.Length; i++) { v *= 1.5; duration[i] = v; }
        var inputLength = Enumerable.Range(0, 20).Select(x => Math.Pow(2, x)).Where(x => x <= maxInputLength).ToArray();
        var batchSize = Enumerable.Range(0, 13).Select(x => Math.Pow(2, x)).ToArray();
        var batchTokens = Enumerable.Range(0, 21).Select(x => Math.Pow(2, x)).ToArray();
        Histogram H(string name, string help, double[] buckets) => f.CreateHistogram(name, help, new HistogramConfiguration { Buckets = buckets });

        RequestCount = f.CreateCounter("te_request_count", "Requests received", "method");
        RequestSuccess = f.CreateCounter("te_request_success", "Requests answered", "method");
        RequestFailure = f.CreateCounter("te_request_failure", "Requests failed, by reason", "err");
        EmbedCount = f.CreateCounter("te_embed_count", "Embedding inputs received");
        EmbedSuccess = f.CreateCounter("te_embed_success", "Embedding inputs answered");
        PredictCount = f.CreateCounter("te_predict_count", "Prediction inputs received");
        PredictSuccess = f.CreateCounter("te_predict_success", "Prediction inputs answered");
        RequestDuration = H("te_request_duration", "Request duration (s)", duration);
        RequestTokenization = H("te_request_tokenization_duration", "Tokenization duration per input (s)", duration);
        RequestQueue = H("te_request_queue_duration", "Queue duration per input (s)", duration);
        RequestInference = H("te_request_inference_duration", "Inference duration per input (s)", duration);
        EmbedDuration = H("te_embed_duration", "Embedding duration (s)", duration);
        EmbedTokenization = H("te_embed_tokenization_duration", "Embedding tokenization duration (s)", duration);
        EmbedQueue = H("te_embed_queue_duration", "Embedding queue duration (s)", duration);
        EmbedInference = H("te_embed_inference_duration", "Embedding inference duration (s)", duration);
        PredictDuration = H("te_predict_duration", "Prediction duration (s)", duration);
        PredictTokenization = H("te_predict_tokenization_duration", "Prediction tokenization duration (s)", duration);
        PredictQueue = H("te_predict_queue_duration", "Prediction queue duration (s)", duration);
        PredictInference = H("te_predict_inference_duration", "Prediction inference duration (s)", duration);
        InputLength = H("te_request_input_length", "Input length in tokens", inputLength);
        BatchNextSize = H("te_batch_next_size", "Entries per batch", batchSize);
        BatchNextTokens = H("te_batch_next_tokens", "Tokens per batch", batchTokens);
        QueueSizeGauge = f.CreateGauge("te_queue_size", "Entries waiting in the queues");
    }

    public CollectorRegistry Registry { get; }
    public Counter RequestCount { get; }
    public Counter RequestSuccess { get; }
    public Counter RequestFailure { get; }
    public Counter EmbedCount { get; }
    public Counter EmbedSuccess { get; }
    public Counter PredictCount { get; }
    public Counter PredictSuccess { get; }
    public Histogram RequestDuration { get; }
    public Histogram RequestTokenization { get; }
    public Histogram RequestQueue { get; }
    public Histogram RequestInference { get; }
    public Histogram EmbedDuration { get; }
    public Histogram EmbedTokenization { get; }
    public Histogram EmbedQueue { get; }
    public Histogram EmbedInference { get; }
    public Histogram PredictDuration { get; }
    public Histogram PredictTokenization { get; }
    public Histogram PredictQueue { get; }
    public Histogram PredictInference { get; }
    public Histogram InputLength { get; }
    public Histogram BatchNextSize { get; }
    public Histogram BatchNextTokens { get; }
    public Gauge QueueSizeGauge { get; }

    /// <summary>An observer for one queue (te_queue_size is the sum over the models' queues).</summary>
    public IQueueObserver ForQueue() => new QueueObserver(this);

    void IQueueObserver.BatchStarted(int entries, int tokens) { BatchNextSize.Observe(entries); BatchNextTokens.Observe(tokens); }
    void IQueueObserver.Dropped() => RequestFailure.WithLabels("dropped").Inc();
    void IQueueObserver.QueueSize(int size) => QueueSizeGauge.Set(size);

    private sealed class QueueObserver(ServerMetrics owner) : IQueueObserver
    {
        public void BatchStarted(int entries, int tokens) => ((IQueueObserver)owner).BatchStarted(entries, tokens);
        public void Dropped() => ((IQueueObserver)owner).Dropped();
        public void QueueSize(int size)
        {
            owner.queueSizes[this] = size;
            owner.QueueSizeGauge.Set(owner.queueSizes.Values.Sum());
        }
    }
}
