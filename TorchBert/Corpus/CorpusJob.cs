using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchBert.Corpus;

/// <summary>What a <see cref="CorpusJob"/> is asked to do.</summary>
public sealed record CorpusJobOptions
{
    /// <summary>The JSONL corpus (see <see cref="CorpusReader"/>).</summary>
    public required string Input { get; init; }

    /// <summary>The output folder, shared by all shards (created if missing).</summary>
    public required string Output { get; init; }

    /// <summary>Which shard this process runs.</summary>
    public Shard Shard { get; init; } = Shard.Single;

    /// <summary>Records per chunk: the unit of work, of output files and of resumption. Chunk c holds records [c·size, (c+1)·size).</summary>
    public int ChunkSize { get; init; } = CorpusJob.DefaultChunkSize;

    /// <summary>The model's name as the caller knows it (recorded in the job spec; a rerun with another model is refused).</summary>
    public string? Model { get; init; }

    /// <summary>Told after every chunk (written or skipped).</summary>
    public IProgress<CorpusProgress>? Progress { get; init; }
}

/// <summary>Progress of one shard, reported after each of its chunks.</summary>
/// <param name="Shard">the shard.</param>
/// <param name="Chunk">the chunk just finished (or found finished).</param>
/// <param name="Skipped">true when the chunk was already written by an earlier run.</param>
/// <param name="ChunksDone">this shard's chunks finished so far (written or skipped).</param>
/// <param name="ChunksOwned">this shard's chunks in all.</param>
/// <param name="RecordsWritten">records computed by this run so far.</param>
/// <param name="Elapsed">time since the run started.</param>
public sealed record CorpusProgress(Shard Shard, long Chunk, bool Skipped, int ChunksDone, int ChunksOwned, long RecordsWritten, TimeSpan Elapsed);

/// <summary>What one shard's run did.</summary>
/// <param name="Shard">the shard.</param>
/// <param name="Records">records in the whole corpus.</param>
/// <param name="Chunks">chunks in the whole corpus.</param>
/// <param name="ChunksOwned">this shard's chunks.</param>
/// <param name="ChunksWritten">chunks this run computed and wrote.</param>
/// <param name="ChunksSkipped">chunks already finished by an earlier run.</param>
/// <param name="RecordsWritten">records this run computed.</param>
/// <param name="Elapsed">wall time of the run.</param>
public sealed record CorpusJobResult(Shard Shard, long Records, long Chunks, int ChunksOwned, int ChunksWritten, int ChunksSkipped, long RecordsWritten, TimeSpan Elapsed);

/// <summary>
/// A sharded, resumable corpus job (embedding or classification of a JSONL corpus), the library side of
/// <c>torchbert embed|classify --input corpus.jsonl --output DIR --shard I/N</c> and of the Kubernetes Indexed Job in
/// <c>deploy/k8s</c>.
/// <list type="bullet">
/// <item>Records are cut into fixed chunks by their global index (<see cref="CorpusJobOptions.ChunkSize"/>); shard I of N owns
/// chunks c with c mod N = I. Each chunk is one Parquet file <c>part-NNNNNN.parquet</c>, computed by one pipeline call on the
/// same records whatever N is, so the output folder is the same (file by file) for any shard count.</item>
/// <item>A chunk is written to a temporary file, flushed to disk and renamed: a killed process leaves either the whole file or
/// none. A rerun skips the chunks whose files exist, deletes its stale temporaries and computes the rest.</item>
/// <item><c>_job.json</c> records what the folder holds (task, settings, model, chunk size, the input's size and SHA-256); a run
/// whose job differs is refused rather than mixing results. A finished shard writes <c>_shard-I-of-N.json</c>.</item>
/// <item>The whole corpus is validated before any compute (every shard reads every line), so a bad line fails every shard at
/// once with its file and line.</item>
/// </list>
/// </summary>
public static class CorpusJob
{
    /// <summary>Default records per chunk.</summary>
    public const int DefaultChunkSize = 1024;

    /// <summary>The job spec file in the output folder.</summary>
    public const string SpecFileName = "_job.json";

    /// <summary>The file of chunk <paramref name="chunk"/>.</summary>
    public static string ChunkFileName(long chunk) => $"part-{chunk.ToString("D6", CultureInfo.InvariantCulture)}.parquet";

    /// <summary>The marker a finished shard writes.</summary>
    public static string ShardFileName(Shard shard) =>
        $"_shard-{shard.Index.ToString("D5", CultureInfo.InvariantCulture)}-of-{shard.Count.ToString("D5", CultureInfo.InvariantCulture)}.json";

    /// <summary>Runs one shard: validates the corpus, checks or writes the job spec, computes and writes the missing chunks it owns.</summary>
    public static async Task<CorpusJobResult> RunAsync(ICorpusTask task, CorpusJobOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (options.ChunkSize < 1) throw new ArgumentException($"chunk size must be >= 1, got {options.ChunkSize}");
        var clock = Stopwatch.StartNew();
        var shard = options.Shard;

        // 1. Validate every line and count the records (cheap next to the model; every shard sees the same errors).
        long records = 0;
        foreach (var _ in CorpusReader.Read(options.Input)) records++;
        if (records == 0) throw new CorpusJobException($"{options.Input}: no records (expected JSONL lines {{\"{CorpusReader.IdField}\": ..., \"{CorpusReader.TextField}\": ...}})");
        long chunks = (records + options.ChunkSize - 1) / options.ChunkSize;

        // 2. The output folder and its job spec.
        if (File.Exists(options.Output)) throw new CorpusJobException($"{options.Output}: is a file; the output must be a folder");
        Directory.CreateDirectory(options.Output);
        var spec = Spec(task, options, records, chunks);
        await CheckOrWriteSpecAsync(options.Output, spec);

        // 3. What is left: owned chunks without a file. Stale temporaries of owned chunks are from killed runs.
        var owned = new List<long>();
        for (long c = shard.Index; c < chunks; c += shard.Count) owned.Add(c);
        foreach (var stale in Directory.EnumerateFiles(options.Output, ".part-*.tmp"))
            if (TempChunk(Path.GetFileName(stale)) is { } c && shard.Owns(c)) File.Delete(stale);
        var todo = owned.Where(c => !File.Exists(Path.Combine(options.Output, ChunkFileName(c)))).ToHashSet();
        int done = 0, written = 0, skipped = 0;
        long recordsWritten = 0;
        foreach (var c in owned.Where(c => !todo.Contains(c)))
        {
            skipped++;
            options.Progress?.Report(new CorpusProgress(shard, c, true, ++done, owned.Count, 0, clock.Elapsed));
        }

        // 4. Stream the corpus again, gathering the records of chunks still to do.
        if (todo.Count > 0)
        {
            var batch = new List<CorpusRecord>(options.ChunkSize);
            long current = -1;
            foreach (var r in CorpusReader.Read(options.Input))
            {
                var c = r.Index / options.ChunkSize;
                if (c != current)
                {
                    if (batch.Count > 0) await Flush();
                    current = c;
                }
                if (todo.Contains(c)) batch.Add(r);
            }
            if (batch.Count > 0) await Flush();

            async Task Flush()
            {
                cancellationToken.ThrowIfCancellationRequested();
                await WriteChunkAsync(task, options.Output, current, batch, cancellationToken);
                written++;
                recordsWritten += batch.Count;
                batch.Clear();
                options.Progress?.Report(new CorpusProgress(shard, current, false, ++done, owned.Count, recordsWritten, clock.Elapsed));
            }
        }

        var result = new CorpusJobResult(shard, records, chunks, owned.Count, written, skipped, recordsWritten, clock.Elapsed);
        var marker = new JsonObject
        {
            ["shard"] = shard.ToString(), ["chunks"] = new JsonArray(owned.Select(c => (JsonNode)ChunkFileName(c)).ToArray()),
            ["records"] = owned.Sum(c => Math.Min(options.ChunkSize, records - c * options.ChunkSize)),
            ["chunks_written"] = written, ["chunks_skipped"] = skipped, ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
        };
        await WriteAtomically(Path.Combine(options.Output, ShardFileName(shard)), Text(marker));
        return result;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static Func<Stream, Task> Text(JsonNode json) => s => s.WriteAsync(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString(Indented) + "\n")).AsTask();

    private static Task WriteChunkAsync(ICorpusTask task, string folder, long chunk, IReadOnlyList<CorpusRecord> records, CancellationToken ct) =>
        WriteAtomically(Path.Combine(folder, ChunkFileName(chunk)), s => task.WriteChunkAsync(records, s, ct));

    /// <summary>
    /// <see cref="AtomicFile"/>: written to <c>.NAME.GUID.tmp</c> beside the target, flushed to disk, renamed over it. A killed
    /// process leaves at most a stale temporary, which the next run of the shard deletes.
    /// </summary>
    private static Task WriteAtomically(string path, Func<Stream, Task> write)
    {
        // Parquet.Net's writer is async over a plain FileStream (no synchronization context here): waiting is safe.
        AtomicFile.Write(path, (Stream stream) => write(stream).GetAwaiter().GetResult());
        return Task.CompletedTask;
    }

    /// <summary>The chunk of a temporary's name <c>.part-NNNNNN.parquet.GUID.tmp</c>, or null.</summary>
    internal static long? TempChunk(string name)
    {
        if (!name.StartsWith(".part-", StringComparison.Ordinal)) return null;
        var end = name.IndexOf(".parquet.", StringComparison.Ordinal);
        return end > 6 && long.TryParse(name.AsSpan(6, end - 6), NumberStyles.None, CultureInfo.InvariantCulture, out var c) ? c : null;
    }

    private static JsonObject Spec(ICorpusTask task, CorpusJobOptions options, long records, long chunks)
    {
        var settings = new JsonObject();
        foreach (var (k, v) in task.Settings.OrderBy(kv => kv.Key, StringComparer.Ordinal)) settings[k] = v;
        return new JsonObject
        {
            ["format"] = "torchbert-corpus-job/1",
            ["task"] = task.Name,
            ["model"] = options.Model,
            ["settings"] = settings,
            ["chunk_size"] = options.ChunkSize,
            ["records"] = records,
            ["chunks"] = chunks,
            ["input_bytes"] = new FileInfo(options.Input).Length,
            ["input_sha256"] = Sha256(options.Input),
        };
    }

    private static string Sha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static async Task CheckOrWriteSpecAsync(string folder, JsonObject spec)
    {
        var path = Path.Combine(folder, SpecFileName);
        if (!File.Exists(path))
        {
            // Shards starting together may race here: each writes the same content atomically.
            await WriteAtomically(path, Text(spec));
            return;
        }
        JsonObject existing;
        try { existing = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new CorpusJobException($"{path}: unreadable job spec ({e.Message}); use an empty output folder", e); }
        var differences = spec.Select(kv => kv.Key)
            .Where(k => !JsonNode.DeepEquals(spec[k], existing[k]))
            .Select(k => $"{k}: {existing[k]?.ToJsonString() ?? "null"} there, {spec[k]?.ToJsonString() ?? "null"} now")
            .ToList();
        if (differences.Count > 0)
            throw new CorpusJobException($"{folder} holds the output of another job ({string.Join("; ", differences)}); use an empty output folder or the same job");
    }
}
