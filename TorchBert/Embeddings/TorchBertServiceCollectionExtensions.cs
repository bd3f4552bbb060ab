using Microsoft.Extensions.AI;
using TorchBert.Embeddings;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers TorchBert as Microsoft.Extensions.AI's embedding generator.</summary>
public static class TorchBertServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="TorchBertEmbeddingGenerator"/> for <paramref name="model"/> (a model folder, <c>.onnx</c>
    /// file, Hub id, or the embedded <c>all-MiniLM-L6-v2</c>) as the singleton
    /// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of <c>string</c> → <see cref="Embedding{T}"/>. The model is
    /// loaded once, on first resolution, and disposed with the container. Returns M.E.AI's builder, so middleware
    /// composes as for any provider: <c>.UseDistributedCache()</c>, <c>.UseOpenTelemetry()</c>, <c>.UseLogging()</c>.
    /// </summary>
    /// <param name="services">the service collection.</param>
    /// <param name="model">model id or path.</param>
    /// <param name="configure">sets device, dtype, batch size, pooling/normalization overrides, the reported model id.</param>
    public static EmbeddingGeneratorBuilder<string, Embedding<float>> AddTorchBertEmbeddingGenerator(this IServiceCollection services, string model,
        Action<TorchBertEmbeddingGeneratorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(model);
        var options = new TorchBertEmbeddingGeneratorOptions();
        configure?.Invoke(options);
        return services.AddEmbeddingGenerator(_ => TorchBertEmbeddingGenerator.FromPretrained(model, options));
    }
}
