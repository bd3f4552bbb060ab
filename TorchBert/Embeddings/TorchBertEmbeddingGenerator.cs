using Microsoft.Extensions.AI;
using TorchBert.Modeling;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Pipelines;

namespace TorchBert.Embeddings;

/// <summary>How <see cref="TorchBertEmbeddingGenerator.FromPretrained"/> and <c>AddTorchBertEmbeddingGenerator</c> load the model.</summary>
public sealed class TorchBertEmbeddingGeneratorOptions
{
    /// <summary>Device, dtype, batch size, truncation, revision (null = defaults: CPU, float32, 32 texts per forward).</summary>
    public PipelineOptions? Pipeline { get; set; }
    /// <summary>Overrides of the model folder's pooling, normalization and default prompt (null = the folder decides).</summary>
    public SentenceEmbeddingOptions? Embedding { get; set; }
    /// <summary>Model loading options (null = defaults).</summary>
    public PretrainedOptions? Model { get; set; }
    /// <summary>The model id the metadata and each <see cref="Embedding.ModelId"/> report (null = the model id or path given).</summary>
    public string? ModelId { get; set; }
}

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over a
/// <see cref="SentenceEmbeddingPipeline"/>: one vector per text, computed as sentence-transformers' <c>encode</c>
/// (the model folder's pooling, normalization and prompts). Texts are batched (<see cref="PipelineOptions.BatchSize"/>
/// per forward); calls from several threads are safe (the pipeline runs one forward at a time).
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> keeps the first N dimensions (sentence-transformers' <c>truncate_dim</c>);
/// the cut vector is L2-normalized again only when the model normalizes (a Normalize module, or
/// <see cref="SentenceEmbeddingOptions.Normalize"/>), so a normalizing model still gives unit vectors and any other gives
/// the full vector's first N values unchanged. <c>AdditionalProperties["prompt_name"]</c> picks one of the model's prompts and
/// <c>AdditionalProperties["prompt"]</c> gives a literal one. <see cref="GeneratedEmbeddings{T}.Usage"/> counts the input
/// tokens. The cancellation token is checked between batches: a cancelled call throws
/// <see cref="OperationCanceledException"/> and returns nothing.
/// </summary>
public sealed class TorchBertEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>The provider name in <see cref="EmbeddingGeneratorMetadata.ProviderName"/>.</summary>
    public const string ProviderName = "torchbert";

    private readonly bool ownsPipeline;
    private readonly EmbeddingGeneratorMetadata metadata;
    private int disposed;

    /// <summary>A generator over <paramref name="pipeline"/>; it disposes the pipeline when <paramref name="ownsPipeline"/>.</summary>
    public TorchBertEmbeddingGenerator(SentenceEmbeddingPipeline pipeline, string? modelId = null, bool ownsPipeline = false)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        Pipeline = pipeline;
        this.ownsPipeline = ownsPipeline;
        ModelId = modelId ?? pipeline.Model.LoadReport?.Source ?? ProviderName;
        metadata = new EmbeddingGeneratorMetadata(ProviderName, providerUri: null, defaultModelId: ModelId, defaultModelDimensions: pipeline.EmbeddingDimension);
    }

    /// <summary>Loads <paramref name="model"/> (a folder, <c>.onnx</c> file, Hub id, or the embedded <c>all-MiniLM-L6-v2</c>); the generator owns the pipeline.</summary>
    public static TorchBertEmbeddingGenerator FromPretrained(string model, TorchBertEmbeddingGeneratorOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        options ??= new TorchBertEmbeddingGeneratorOptions();
        var pipeline = SentenceEmbeddingPipeline.FromPretrained(model, options.Pipeline, options.Embedding, options.Model);
        return new TorchBertEmbeddingGenerator(pipeline, options.ModelId ?? model, ownsPipeline: true);
    }

    /// <summary>The pipeline that computes the vectors.</summary>
    public SentenceEmbeddingPipeline Pipeline { get; }

    /// <summary>The model id reported in the metadata and on each embedding.</summary>
    public string ModelId { get; }

    /// <summary>The metadata: provider <c>torchbert</c>, the model id, the vectors' full dimensions.</summary>
    public EmbeddingGeneratorMetadata Metadata => metadata;

    /// <inheritdoc/>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        var texts = values.ToList();
        var parameters = Parameters(options);
        if (texts.Count == 0) return new GeneratedEmbeddings<Embedding<float>>() { Usage = new UsageDetails { InputTokenCount = 0, TotalTokenCount = 0 } };
        var result = await Task.Run(() => Pipeline.Embed(texts, parameters, cancellationToken), cancellationToken).ConfigureAwait(false);
        var created = DateTimeOffset.UtcNow;
        var embeddings = result.Vectors.Select(v => new Embedding<float>(v) { ModelId = ModelId, CreatedAt = created });
        return new GeneratedEmbeddings<Embedding<float>>(embeddings)
        {
            Usage = new UsageDetails { InputTokenCount = result.TotalTokens, TotalTokenCount = result.TotalTokens },
        };
    }

    /// <summary>The pipeline's per-call parameters for M.E.AI's options (Dimensions, prompt_name, prompt).</summary>
    private static SentenceEmbeddingParameters Parameters(EmbeddingGenerationOptions? options)
    {
        if (options is null) return SentenceEmbeddingParameters.Default;
        return new SentenceEmbeddingParameters
        {
            Dimensions = options.Dimensions,
            PromptName = Property(options, "prompt_name"),
            Prompt = Property(options, "prompt"),
        };
    }

    private static string? Property(EmbeddingGenerationOptions options, string name) =>
        options.AdditionalProperties?.TryGetValue(name, out var value) != true || value is null ? null
        : value as string ?? (value is System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.String } e ? e.GetString()
            : throw new ArgumentException($"AdditionalProperties[\"{name}\"] must be a string, got {value.GetType().Name}"));

    /// <summary>
    /// <see cref="EmbeddingGeneratorMetadata"/>, this generator, its <see cref="SentenceEmbeddingPipeline"/> or its
    /// <see cref="BertModel"/> when asked for a type they are (and no key); else null.
    /// </summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? metadata
            : serviceType.IsInstanceOfType(this) ? this
            : serviceType.IsInstanceOfType(Pipeline) ? Pipeline
            : serviceType.IsInstanceOfType(Pipeline.Model) ? Pipeline.Model
            : null;
    }

    /// <summary>Disposes the pipeline (and its model) when this generator owns it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        if (ownsPipeline) Pipeline.Dispose();
    }
}

/// <summary>Adapters from TorchBert pipelines to Microsoft.Extensions.AI.</summary>
public static class TorchBertEmbeddingGeneratorExtensions
{
    /// <summary>
    /// The pipeline as an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>. The generator does not own the pipeline:
    /// dispose the pipeline when done (or use <see cref="TorchBertEmbeddingGenerator.FromPretrained"/>, which owns its own).
    /// </summary>
    public static IEmbeddingGenerator<string, Embedding<float>> AsIEmbeddingGenerator(this SentenceEmbeddingPipeline pipeline, string? modelId = null) =>
        new TorchBertEmbeddingGenerator(pipeline, modelId);
}
