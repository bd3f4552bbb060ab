using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Parquet.Serialization;
using Parquet.Serialization.Attributes;
using TorchBert.Pipelines;

namespace TorchBert.Corpus;

/// <summary>
/// What a <see cref="CorpusJob"/> computes for each chunk of records and how it writes the chunk's Parquet file. The
/// implementations here wrap the library pipelines: <see cref="EmbeddingCorpusTask"/> and <see cref="ClassificationCorpusTask"/>.
/// </summary>
public interface ICorpusTask
{
    /// <summary>The task name recorded in the job spec (e.g. <c>sentence-embedding</c>).</summary>
    string Name { get; }

    /// <summary>Settings that change the results (pooling, labels, ...): a rerun with other settings into the same folder is refused.</summary>
    IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>Computes the records' results and writes them, in record order, as one Parquet file to <paramref name="output"/>.</summary>
    Task WriteChunkAsync(IReadOnlyList<CorpusRecord> records, Stream output, CancellationToken cancellationToken);
}

/// <summary>
/// Sentence embeddings of a corpus (<see cref="SentenceEmbeddingPipeline"/>). Parquet columns: <c>id</c> (string),
/// <c>index</c> (int64, the record's position in the corpus), <c>embedding</c> (list&lt;float&gt;). Every chunk is
/// embedded with <see cref="Parameters"/> (prompt, prompt name, dimensions), so the vectors are the pipeline's
/// <c>Run(texts, parameters)</c>. The pipeline is borrowed: its owner disposes it.
/// </summary>
public sealed class EmbeddingCorpusTask : ICorpusTask
{
    private readonly SentenceEmbeddingPipeline pipeline;
    private readonly string? prompt;

    /// <summary>
    /// A task that embeds with <paramref name="pipeline"/> and <paramref name="parameters"/> (null = the defaults: the model's
    /// default prompt, full dimensions). An unknown prompt name or bad dimensions throw <see cref="ArgumentException"/> here,
    /// before any work.
    /// </summary>
    public EmbeddingCorpusTask(SentenceEmbeddingPipeline pipeline, SentenceEmbeddingParameters? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        parameters ??= SentenceEmbeddingParameters.Default;
        if (parameters.Dimensions is { } d && (d < 1 || d > pipeline.EmbeddingDimension))
            throw new ArgumentException(d < 1 ? $"dimensions must be >= 1, got {d}" : $"dimensions {d} is more than the model's {pipeline.EmbeddingDimension}", nameof(parameters));
        this.pipeline = pipeline;
        Parameters = parameters;
        prompt = pipeline.Config.ResolvePrompt(parameters.PromptName, parameters.Prompt);   // throws for an unknown name
    }

    /// <summary>The per-call options every chunk is embedded with.</summary>
    public SentenceEmbeddingParameters Parameters { get; }

    /// <inheritdoc/>
    public string Name => pipeline.TaskName;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Settings => new SortedDictionary<string, string>
    {
        ["pooling"] = pipeline.Pooling.ToString().ToLowerInvariant(),
        ["normalize"] = pipeline.Normalize ? "true" : "false",
        ["max_seq_length"] = pipeline.MaxSeqLength.ToString(CultureInfo.InvariantCulture),
        ["hidden_size"] = pipeline.Model.Config.HiddenSize.ToString(CultureInfo.InvariantCulture),
        ["dtype"] = pipeline.Options.DType?.ToString() ?? "Float32",
        ["prompt"] = prompt ?? "",                                                   // the prompt actually prepended ("" = none)
        ["dimensions"] = (Parameters.Dimensions ?? pipeline.EmbeddingDimension).ToString(CultureInfo.InvariantCulture),
    };

    /// <inheritdoc/>
    public async Task WriteChunkAsync(IReadOnlyList<CorpusRecord> records, Stream output, CancellationToken cancellationToken)
    {
        var vectors = pipeline.Run(records.Select(r => r.Text).ToList(), Parameters, cancellationToken);
        var rows = records.Select((r, i) => new EmbeddingRow { Id = r.Id, Index = r.Index, Embedding = vectors[i] }).ToList();
        await ParquetSerializer.SerializeAsync(rows, output, null, CorpusParquet.Metadata(this), cancellationToken);
    }

    /// <summary>One row of an embedding chunk file.</summary>
    public sealed class EmbeddingRow
    {
        /// <summary>The record's <c>id</c>.</summary>
        [JsonPropertyName("id"), ParquetRequired] public string Id { get; set; } = "";
        /// <summary>The record's 0-based position in the corpus.</summary>
        [JsonPropertyName("index")] public long Index { get; set; }
        /// <summary>The sentence embedding.</summary>
        [JsonPropertyName("embedding")] public float[] Embedding { get; set; } = [];
    }
}

/// <summary>
/// Text classification of a corpus (<see cref="TextClassificationPipeline"/>). Parquet columns: <c>id</c>, <c>index</c>,
/// <c>label</c> and <c>score</c> (the best label, HF's default output), <c>labels</c> and <c>scores</c> (the
/// <see cref="TopK"/> best labels, best first, as HF's <c>top_k=k</c>; every label when null, HF's <c>top_k=None</c>).
/// The pipeline is borrowed: its owner disposes it.
/// </summary>
public sealed class ClassificationCorpusTask : ICorpusTask
{
    private readonly TextClassificationPipeline pipeline;
    private readonly ClassificationFunction? function;

    /// <summary>
    /// A task that classifies with <paramref name="pipeline"/>, <paramref name="function"/> (null = the model's default) and
    /// <paramref name="topK"/> labels per record in <c>labels</c>/<c>scores</c> (null = every label; &lt; 1 throws).
    /// </summary>
    public ClassificationCorpusTask(TextClassificationPipeline pipeline, ClassificationFunction? function = null, int? topK = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (topK is < 1) throw new ArgumentOutOfRangeException(nameof(topK), topK, $"top_k must be >= 1 (null = every label), got {topK}");
        this.pipeline = pipeline;
        this.function = function;
        TopK = topK;
    }

    /// <summary>Labels per record in the <c>labels</c>/<c>scores</c> columns, best first (null = every label).</summary>
    public int? TopK { get; }

    /// <inheritdoc/>
    public string Name => pipeline.TaskName;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Settings => new SortedDictionary<string, string>
    {
        ["function"] = (function ?? pipeline.DefaultFunction).ToString().ToLowerInvariant(),
        ["labels"] = JsonSerializer.Serialize(Enumerable.Range(0, pipeline.Model.Config.NumLabels)
            .Select(i => pipeline.Model.Config.Id2Label.TryGetValue(i, out var l) ? l : $"LABEL_{i}")),
        ["truncation"] = pipeline.Options.Truncation?.ToString().ToLowerInvariant() ?? "default",
        ["max_length"] = pipeline.MaxLength.ToString(CultureInfo.InvariantCulture),
        ["dtype"] = pipeline.Options.DType?.ToString() ?? "Float32",
        ["top_k"] = TopK?.ToString(CultureInfo.InvariantCulture) ?? "all",
    };

    /// <inheritdoc/>
    public async Task WriteChunkAsync(IReadOnlyList<CorpusRecord> records, Stream output, CancellationToken cancellationToken)
    {
        var results = pipeline.Run(records.Select(r => new TextPair(r.Text)).ToList(), new TextClassificationParams { TopK = TopK, Function = function }, cancellationToken);
        var rows = records.Select((r, i) => new ClassificationRow
        {
            Id = r.Id, Index = r.Index,
            Label = results[i][0].Label, Score = results[i][0].Score,
            Labels = results[i].Select(l => l.Label).ToArray(), Scores = results[i].Select(l => l.Score).ToArray(),
        }).ToList();
        await ParquetSerializer.SerializeAsync(rows, output, null, CorpusParquet.Metadata(this), cancellationToken);
    }

    /// <summary>One row of a classification chunk file.</summary>
    public sealed class ClassificationRow
    {
        /// <summary>The record's <c>id</c>.</summary>
        [JsonPropertyName("id"), ParquetRequired] public string Id { get; set; } = "";
        /// <summary>The record's 0-based position in the corpus.</summary>
        [JsonPropertyName("index")] public long Index { get; set; }
        /// <summary>The best label.</summary>
        [JsonPropertyName("label"), ParquetRequired] public string Label { get; set; } = "";
        /// <summary>The best label's score.</summary>
        [JsonPropertyName("score")] public double Score { get; set; }
        /// <summary>The top-k labels (every label by default), best first.</summary>
        [JsonPropertyName("labels")] public string[] Labels { get; set; } = [];
        /// <summary>Their scores, in the same order.</summary>
        [JsonPropertyName("scores")] public double[] Scores { get; set; } = [];
    }
}

internal static class CorpusParquet
{
    public static IReadOnlyDictionary<string, string> Metadata(ICorpusTask task)
    {
        var meta = new Dictionary<string, string> { ["torchbert.task"] = task.Name };
        foreach (var (k, v) in task.Settings) meta[$"torchbert.{k}"] = v;
        return meta;
    }
}
