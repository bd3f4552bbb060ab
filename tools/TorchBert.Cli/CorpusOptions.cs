using System.CommandLine;
using TorchBert.Corpus;

namespace TorchBert.Cli;

/// <summary>
/// Sharded corpus jobs for embed and classify: <c>--input corpus.jsonl --output DIR/ [--shard I/N] [--chunk-size K]</c>.
/// The job itself is <see cref="CorpusJob"/> (library); this only parses the options and prints progress on stderr.
/// A command runs as a corpus job when --shard is given or --output names a folder (an existing one, or a path ending in '/');
/// without --shard the shard comes from JOB_COMPLETION_INDEX / JOB_COMPLETIONS (a Kubernetes Indexed Job), else 0/1.
/// </summary>
internal sealed class CorpusOptions
{
    public readonly Option<string?> ShardOption = new("--shard") { Description = "corpus job: run shard I of N (0-based, e.g. 0/4); default: $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS, else 0/1" };
    public readonly Option<int> ChunkSize = new("--chunk-size") { Description = "corpus job: records per chunk (the unit of output files and of resuming)", DefaultValueFactory = _ => CorpusJob.DefaultChunkSize };

    public void AddTo(Command c) { c.Options.Add(ShardOption); c.Options.Add(ChunkSize); }

    /// <summary>True when the command should run as a corpus job (see the class summary).</summary>
    public bool Requested(ParseResult p, string? output) =>
        p.GetValue(ShardOption) is not null
        || output is not null && (output.EndsWith('/') || output.EndsWith(Path.DirectorySeparatorChar) || Directory.Exists(output));

    /// <summary>
    /// Options of the command that have no meaning in a corpus job (e.g. --json: the job writes Parquet parts): each one
    /// given is a usage error rather than silently ignored.
    /// </summary>
    public static void Refuse(ParseResult p, params Option[] options)
    {
        foreach (var option in options)
            if (p.GetResult(option) is { Implicit: false })
                throw new UsageException($"{option.Name} does not apply to a corpus job (it writes Parquet parts to the --output folder)");
    }

    /// <summary>Runs the job with <paramref name="task"/>; progress lines on stderr; exit code 0.</summary>
    public int Run(ParseResult p, ICorpusTask task, string? input, string? output, string model)
    {
        if (input is null) throw new UsageException("a corpus job needs --input FILE.jsonl (lines {\"id\": ..., \"text\": ...})");
        if (output is null) throw new UsageException("a corpus job needs --output DIR/");
        var chunkSize = p.GetValue(ChunkSize);
        if (chunkSize < 1) throw new UsageException($"--chunk-size must be >= 1, got {chunkSize}");
        Shard shard;
        try { shard = p.GetValue(ShardOption) is { } s ? Shard.Parse(s) : Shard.FromEnvironment() ?? Shard.Single; }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var options = new CorpusJobOptions
        {
            Input = input, Output = output, Shard = shard, ChunkSize = chunkSize, Model = model,
            Progress = new SyncProgress(r => Console.Error.WriteLine(
                r.Skipped ? $"torchbert: shard {r.Shard}: {CorpusJob.ChunkFileName(r.Chunk)} already written, skipped ({r.ChunksDone}/{r.ChunksOwned})"
                          : $"torchbert: shard {r.Shard}: {CorpusJob.ChunkFileName(r.Chunk)} written ({r.ChunksDone}/{r.ChunksOwned} chunks, {r.RecordsWritten} records, {r.RecordsWritten / Math.Max(r.Elapsed.TotalSeconds, 1e-3):F1} records/s)")),
        };
        var result = CorpusJob.RunAsync(task, options).GetAwaiter().GetResult();
        Console.Error.WriteLine($"torchbert: shard {result.Shard}: done: {result.ChunksOwned} of {result.Chunks} chunks ({result.ChunksWritten} written, {result.ChunksSkipped} skipped), "
                                + $"{result.RecordsWritten} records in {result.Elapsed.TotalSeconds:F1} s → {output}");
        return 0;
    }

    /// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SyncProgress(Action<CorpusProgress> report) : IProgress<CorpusProgress>
    {
        public void Report(CorpusProgress value) => report(value);
    }
}
