using System.Diagnostics;
using TorchBert.Tokenization;

namespace TorchBert.Serving;

/// <summary>How an <see cref="InferenceQueue"/> forms batches (TEI's router options of the same names).</summary>
public sealed record BatchingOptions
{
    /// <summary>TEI <c>--max-batch-tokens</c>: tokens one forward may hold (padded: longest row × rows).</summary>
    public int MaxBatchTokens { get; init; } = 16384;

    /// <summary>TEI <c>--max-batch-requests</c>: entries one forward may hold; null = no cap besides tokens.</summary>
    public int? MaxBatchRequests { get; init; }

    /// <summary>
    /// Count a batch's tokens as its padded size (longest row × rows, TEI's rule for padded backends, which TorchSharp
    /// is) rather than the sum of lengths.
    /// </summary>
    public bool PaddedTokens { get; init; } = true;
}

/// <summary>Runs the rows of one kind of work (one pipeline's forward) as a single batch.</summary>
public interface IRowRunner
{
    /// <summary>One forward over <paramref name="rows"/> (unpadded); one output per row, in order.</summary>
    IReadOnlyList<object> Forward(IReadOnlyList<BertEncoding> rows);
}

/// <summary>An <see cref="IRowRunner"/> over a function (typically a pipeline's <c>ForwardRows</c>).</summary>
/// <typeparam name="TRow">one row's output.</typeparam>
public sealed class RowRunner<TRow>(Func<IReadOnlyList<BertEncoding>, IReadOnlyList<TRow>> forward) : IRowRunner where TRow : notnull
{
    /// <inheritdoc/>
    public IReadOnlyList<object> Forward(IReadOnlyList<BertEncoding> rows) => forward(rows).Select(r => (object)r).ToList();
}

/// <summary>What a queue reports as it works (metrics); every member may be called from the worker thread.</summary>
public interface IQueueObserver
{
    /// <summary>A batch of <paramref name="entries"/> entries and <paramref name="tokens"/> tokens is about to run.</summary>
    void BatchStarted(int entries, int tokens);
    /// <summary>An entry was dropped before compute because its caller went away.</summary>
    void Dropped();
    /// <summary>Entries now waiting.</summary>
    void QueueSize(int size);
}

/// <summary>
/// One input's work in an <see cref="InferenceQueue"/>: its tokenized rows (one for most tasks; QA windows or zero-shot
/// hypotheses make several), the runner that computes them, and the caller's cancellation (a client that went away).
/// </summary>
public sealed class QueueEntry
{
    private readonly TaskCompletionSource<IReadOnlyList<object>> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long enqueuedAt, startedAt;

    /// <summary>An entry of <paramref name="rows"/> for <paramref name="runner"/>; <paramref name="aborted"/> drops it before compute.</summary>
    public QueueEntry(IReadOnlyList<BertEncoding> rows, IRowRunner runner, CancellationToken aborted = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(runner);
        if (rows.Count == 0) throw new ArgumentException("an entry needs at least one row");
        Rows = rows;
        Runner = runner;
        Aborted = aborted;
        Tokens = rows.Sum(r => r.Length);
        LongestRow = rows.Max(r => r.Length);
    }

    /// <summary>The tokenized rows.</summary>
    public IReadOnlyList<BertEncoding> Rows { get; }
    /// <summary>What computes them.</summary>
    public IRowRunner Runner { get; }
    /// <summary>Cancelled when the caller no longer wants the result.</summary>
    public CancellationToken Aborted { get; }
    /// <summary>Tokens of all rows.</summary>
    public int Tokens { get; }
    /// <summary>The longest row.</summary>
    public int LongestRow { get; }
    /// <summary>One output per row, when computed; cancelled when dropped; faulted when the forward failed.</summary>
    public Task<IReadOnlyList<object>> Result => done.Task;
    /// <summary>Time spent waiting in the queue.</summary>
    public TimeSpan QueueTime { get; private set; }
    /// <summary>Time of the forward that computed it (shared by its whole batch).</summary>
    public TimeSpan InferenceTime { get; private set; }

    internal void Enqueued() => enqueuedAt = Stopwatch.GetTimestamp();
    internal void Started(long now) { startedAt = now; QueueTime = Stopwatch.GetElapsedTime(enqueuedAt, now); }
    internal void Complete(IReadOnlyList<object> outputs, long now) { InferenceTime = Stopwatch.GetElapsedTime(startedAt, now); done.TrySetResult(outputs); }
    internal void Fail(Exception e) => done.TrySetException(e);
    internal void Drop() => done.TrySetCanceled(Aborted.IsCancellationRequested ? Aborted : new CancellationToken(true));
}

/// <summary>The queue refuses entries because it is closed (shutting down).</summary>
public sealed class QueueClosedException(string message) : InvalidOperationException(message);

/// <summary>
/// One model's queue and inference worker, TEI's design (<c>core/src/queue.rs</c>, <c>infer.rs</c>): callers tokenize
/// on their own threads and enqueue one <see cref="QueueEntry"/> per input; a single worker thread takes the next batch
/// FIFO while its token count stays within <see cref="BatchingOptions.MaxBatchTokens"/> and its size within
/// <see cref="BatchingOptions.MaxBatchRequests"/> (the first entry always fits), drops entries whose caller went away,
/// and runs each runner's rows of the batch in one forward. No linger timer: a lone entry runs at once.
/// <see cref="CloseAsync"/> stops new entries and finishes everything queued.
/// </summary>
public sealed class InferenceQueue : IDisposable
{
    private readonly Queue<QueueEntry> entries = new();
    private readonly Lock gate = new();
    private readonly SemaphoreSlim signal = new(0);
    private readonly BatchingOptions options;
    private readonly IQueueObserver? observer;
    private readonly Thread worker;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool closed;
    private volatile bool healthy;

    /// <summary>Starts the worker thread of a queue named <paramref name="name"/> (shown in the thread name).</summary>
    public InferenceQueue(string name, BatchingOptions? options = null, IQueueObserver? observer = null)
    {
        this.options = options ?? new BatchingOptions();
        if (this.options.MaxBatchTokens < 1) throw new ArgumentException($"max batch tokens must be >= 1, got {this.options.MaxBatchTokens}");
        if (this.options.MaxBatchRequests is < 1) throw new ArgumentException($"max batch requests must be >= 1, got {this.options.MaxBatchRequests}");
        this.observer = observer;
        worker = new Thread(Work) { IsBackground = true, Name = $"inference {name}" };
        worker.Start();
    }

    /// <summary>The options batches are formed with.</summary>
    public BatchingOptions Options => options;

    /// <summary>True once a forward has succeeded, false again after one fails.</summary>
    public bool Healthy => healthy;

    /// <summary>Entries waiting.</summary>
    public int Count { get { lock (gate) return entries.Count; } }

    /// <summary>Forwards run so far (batches).</summary>
    public long Batches => Interlocked.Read(ref batches);
    private long batches;

    /// <summary>Queues an entry; <see cref="QueueClosedException"/> once closed.</summary>
    public void Enqueue(QueueEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        int size;
        lock (gate)
        {
            if (closed) throw new QueueClosedException("the server is shutting down");
            entry.Enqueued();
            entries.Enqueue(entry);
            size = entries.Count;
        }
        observer?.QueueSize(size);
        signal.Release();
    }

    /// <summary>Queues several entries at once (one request's inputs), so they can share a batch.</summary>
    public void EnqueueAll(IReadOnlyList<QueueEntry> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int size;
        lock (gate)
        {
            if (closed) throw new QueueClosedException("the server is shutting down");
            foreach (var e in batch) { e.Enqueued(); entries.Enqueue(e); }
            size = entries.Count;
        }
        observer?.QueueSize(size);
        signal.Release();
    }

    /// <summary>Stops accepting entries; completes when everything queued has been computed (or dropped).</summary>
    public Task CloseAsync()
    {
        lock (gate)
        {
            if (closed) return stopped.Task;
            closed = true;
        }
        signal.Release();
        return stopped.Task;
    }

    /// <summary>Runs rows once outside any request (a warm-up that proves the model works; sets <see cref="Healthy"/>).</summary>
    public async Task WarmUpAsync(QueueEntry probe)
    {
        Enqueue(probe);
        await probe.Result.ConfigureAwait(false);
    }

    private void Work()
    {
        try
        {
            while (true)
            {
                signal.Wait();
                while (true)
                {
                    List<QueueEntry> batch;
                    int tokens;
                    int size;
                    lock (gate)
                    {
                        if (entries.Count == 0) { if (closed) return; break; }
                        (batch, tokens) = NextBatch();
                        size = entries.Count;
                    }
                    observer?.QueueSize(size);
                    if (batch.Count > 0) Run(batch, tokens);
                }
            }
        }
        finally
        {
            stopped.TrySetResult();
        }
    }

    private (List<QueueEntry>, int) NextBatch()
    {
        var batch = new List<QueueEntry>();
        int rows = 0, longest = 0, sum = 0, tokens = 0;
        while (entries.Count > 0)
        {
            var e = entries.Peek();
            if (e.Aborted.IsCancellationRequested)
            {
                entries.Dequeue();
                e.Drop();
                observer?.Dropped();
                continue;
            }
            var nextLongest = Math.Max(longest, e.LongestRow);
            var next = options.PaddedTokens ? nextLongest * (rows + e.Rows.Count) : sum + e.Tokens;
            if (batch.Count > 0 && next > options.MaxBatchTokens) break;
            entries.Dequeue();
            batch.Add(e);
            rows += e.Rows.Count;
            longest = nextLongest;
            sum += e.Tokens;
            tokens = next;
            if (batch.Count == options.MaxBatchRequests) break;
        }
        return (batch, tokens);
    }

    private void Run(List<QueueEntry> batch, int tokens)
    {
        observer?.BatchStarted(batch.Count, tokens);
        var now = Stopwatch.GetTimestamp();
        foreach (var e in batch) e.Started(now);
        foreach (var group in batch.GroupBy(e => e.Runner))
        {
            var members = group.ToList();
            var rows = members.SelectMany(e => e.Rows).ToList();
            try
            {
                var outputs = group.Key.Forward(rows);
                if (outputs.Count != rows.Count) throw new InvalidOperationException($"the forward returned {outputs.Count} outputs for {rows.Count} rows");
                healthy = true;
                var end = Stopwatch.GetTimestamp();
                int k = 0;
                foreach (var e in members)
                {
                    var mine = new object[e.Rows.Count];
                    for (int r = 0; r < mine.Length; r++) mine[r] = outputs[k++];
                    e.Complete(mine, end);
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Bad input slips past validation as ArgumentException: that is the input's fault, not the model's.
                if (ex is not ArgumentException) healthy = false;
                foreach (var e in members) e.Fail(ex);
            }
        }
        Interlocked.Increment(ref batches);
    }

    /// <summary>Closes the queue and waits for the worker to finish what was queued.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        CloseAsync().Wait();
        signal.Dispose();
    }
    private int disposed;
}

/// <summary>
/// TEI's concurrency limit: one permit per input, taken all at once or not at all (<see cref="TryAcquire"/> never
/// waits: a full server answers at once instead of queueing without bound).
/// </summary>
public sealed class Permits(int capacity)
{
    private int available = capacity >= 1 ? capacity : throw new ArgumentException($"max concurrent requests must be >= 1, got {capacity}");

    /// <summary>The permits there are.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Permits free now.</summary>
    public int Available => Volatile.Read(ref available);

    /// <summary><paramref name="count"/> permits, released when the lease is disposed; null when not that many are free.</summary>
    public IDisposable? TryAcquire(int count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
        while (true)
        {
            var now = Volatile.Read(ref available);
            if (now < count) return null;
            if (Interlocked.CompareExchange(ref available, now - count, now) == now) return new Lease(this, count);
        }
    }

    private sealed class Lease(Permits owner, int count) : IDisposable
    {
        private int released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) Interlocked.Add(ref owner.available, count);
        }
    }
}
