using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TorchBert.Embeddings;
using TorchBert.Modeling;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Pipelines;
using static TorchSharp.torch;

namespace TorchBert.Tests.Embeddings;

/// <summary>
/// <see cref="TorchBertEmbeddingGenerator"/> through Microsoft.Extensions.AI's own DI builder and middleware
/// (distributed cache, OpenTelemetry, logging). Forwards are counted from the pipeline's verbose trace
/// ("[forward] last_hidden_state" once per batch).
/// </summary>
public sealed class EmbeddingGeneratorTests(StFolders st) : IClassFixture<StFolders>
{
    private const double Tol = 5e-5;
    private static readonly string[] Texts = [StFolders.Row1Text, StFolders.Row2Text];

    /// <summary>A text writer that counts forwards and can act on each one.</summary>
    private sealed class ForwardCounter(Action<int>? onForward = null) : ILogger
    {
        private int forwards;
        public int Forwards => Volatile.Read(ref forwards);
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var value = formatter(state, exception);
            if (value.StartsWith("[forward] last_hidden_state", StringComparison.Ordinal))
            {
                var n = Interlocked.Increment(ref forwards);
                onForward?.Invoke(n);
            }
        }
    }

    /// <summary>Records what M.E.AI's logging middleware logs (every level enabled).</summary>
    private sealed class CapturingLoggerFactory : ILoggerFactory, ILogger
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; } = new();
        public ILogger CreateLogger(string categoryName) => this;
        public void AddProvider(ILoggerProvider provider) { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception));
        public void Dispose() { }
    }

    private string MeanFolder() => st.StFolder(StFolders.PoolingConfig("pooling_mode_mean_tokens"), normalize: true);

    [Fact]
    public async Task Di_builder_composes_with_the_distributed_cache_and_a_cache_hit_runs_no_forward()
    {
        var dir = MeanFolder();
        var counter = new ForwardCounter();
        var services = new ServiceCollection();
        services.AddDistributedMemoryCache();
        var logs = new CapturingLoggerFactory();
        services.AddSingleton<ILoggerFactory>(logs);
        services.AddTorchBertEmbeddingGenerator(dir, o =>
            {
                o.Pipeline = new PipelineOptions { Device = CPU, Verbose = true, Logger = counter };
                o.ModelId = "tiny-st";
            })
            .UseDistributedCache()
            .UseOpenTelemetry()
            .UseLogging();
        TorchBertEmbeddingGenerator inner;
        await using (var provider = services.BuildServiceProvider())
        {
            var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>().Should().BeSameAs(generator, "one model, loaded once");
            generator.Should().NotBeOfType<TorchBertEmbeddingGenerator>("middleware wraps it");
            inner = generator.GetService<TorchBertEmbeddingGenerator>()!;
            inner.Should().NotBeNull();

            var first = await generator.GenerateAsync(Texts);
            counter.Forwards.Should().Be(1, "two texts, one batch");
            var again = await generator.GenerateAsync(Texts);
            counter.Forwards.Should().Be(1, "the distributed cache answered");
            logs.Lines.Should().Contain(l => l.Contains("GenerateAsync"), "the logging middleware is in the chain");
            for (int i = 0; i < 2; i++)
            {
                again[i].Vector.ToArray().Should().Equal(first[i].Vector.ToArray());
                StFolders.Close(first[i].Vector.ToArray(), StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[i])), Tol, $"row {i + 1}");
            }
            first[0].ModelId.Should().Be("tiny-st");
            // (the caching middleware answers per text and drops Usage; the provider reports it)
            (await inner.GenerateAsync(Texts)).Usage!.InputTokenCount.Should().Be(7 + 4, "HF's recorded attention masks: 7 and 4 tokens");

            var metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;
            metadata.ProviderName.Should().Be("torchbert");
            metadata.DefaultModelId.Should().Be("tiny-st");
            metadata.DefaultModelDimensions.Should().Be(32);
            generator.GetService<SentenceEmbeddingPipeline>().Should().BeSameAs(inner.Pipeline);
            generator.GetService<BertModel>().Should().BeSameAs(inner.Pipeline.Model);
        }
        var afterDispose = () => inner.GenerateAsync(Texts);
        await afterDispose.Should().ThrowAsync<ObjectDisposedException>("the container disposed the generator and its model");
    }

    [Fact]
    public async Task Vectors_equal_the_pipelines_and_dimensions_truncate_then_renormalize()
    {
        var dir = MeanFolder();
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU });
        using var generator = TorchBertEmbeddingGenerator.FromPretrained(dir, new TorchBertEmbeddingGeneratorOptions { Pipeline = new PipelineOptions { Device = CPU } });
        var reference = pipe.Run(Texts);
        var full = await generator.GenerateAsync(Texts);
        for (int i = 0; i < 2; i++) full[i].Vector.ToArray().Should().Equal(reference[i], (a, b) => Math.Abs(a - b) < 1e-6);

        var cut = await generator.GenerateAsync(Texts, new EmbeddingGenerationOptions { Dimensions = 8 });
        for (int i = 0; i < 2; i++)
        {
            cut[i].Dimensions.Should().Be(8);
            StFolders.Close(cut[i].Vector.ToArray(), StFolders.Normalize(reference[i][..8].Select(x => (double)x).ToArray()), 1e-6, "truncate + renormalize");
        }
        var tooMany = () => generator.GenerateAsync(Texts, new EmbeddingGenerationOptions { Dimensions = 64 });
        await tooMany.Should().ThrowAsync<ArgumentException>().WithMessage("*64*more than the model's 32*");
    }

    /// <summary>
    /// A folder without a Normalize module: sentence-transformers' <c>truncate_dim</c> only cuts, so Dimensions = 8 is the
    /// first 8 values of the full vector, unchanged and not unit length. Oracle: ST's mean pooling on HF's recorded hidden
    /// state, and its prefix.
    /// </summary>
    [Fact]
    public async Task Dimensions_on_a_folder_that_does_not_normalize_keep_the_full_vectors_prefix_unchanged()
    {
        var dir = st.StFolder(StFolders.PoolingConfig("pooling_mode_mean_tokens"), normalize: false);
        using var generator = TorchBertEmbeddingGenerator.FromPretrained(dir, new TorchBertEmbeddingGeneratorOptions { Pipeline = new PipelineOptions { Device = CPU } });
        var full = await generator.GenerateAsync(Texts);
        var cut = await generator.GenerateAsync(Texts, new EmbeddingGenerationOptions { Dimensions = 8 });
        for (int i = 0; i < 2; i++)
        {
            var oracle = StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[i]);
            StFolders.Close(full[i].Vector.ToArray(), oracle, Tol, $"row {i + 1}: the full vector, not normalized");
            cut[i].Dimensions.Should().Be(8);
            StFolders.Close(cut[i].Vector.ToArray(), oracle[..8], Tol, $"row {i + 1}: the first 8 values of the full vector");
            cut[i].Vector.ToArray().Should().Equal(full[i].Vector.ToArray()[..8], (a, b) => Math.Abs(a - b) <= 1e-6, "the prefix, unchanged");
            Math.Sqrt(oracle[..8].Sum(x => x * x)).Should().NotBeApproximately(1.0, 0.05, "the prefix is not unit length, so a re-normalization would show");
        }
    }

    [Fact]
    public async Task Prompt_name_comes_through_additional_properties()
    {
        var pooling = StFolders.PoolingConfig("pooling_mode_mean_tokens");
        var dir = st.StFolder(pooling, true, ("config_sentence_transformers.json", new Dictionary<string, object> { ["prompts"] = new Dictionary<string, string> { ["doc"] = "join " } }));
        using var generator = TorchBertEmbeddingGenerator.FromPretrained(dir, new TorchBertEmbeddingGeneratorOptions { Pipeline = new PipelineOptions { Device = CPU } });
        var options = new EmbeddingGenerationOptions { AdditionalProperties = new() { ["prompt_name"] = "doc" } };
        var result = await generator.GenerateAsync(["jacob"], options);
        StFolders.Close(result[0].Vector.ToArray(), StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1])), Tol, "doc prompt");
        result.Usage!.InputTokenCount.Should().Be(4);
        var unknown = () => generator.GenerateAsync(["jacob"], new EmbeddingGenerationOptions { AdditionalProperties = new() { ["prompt_name"] = "query" } });
        await unknown.Should().ThrowAsync<ArgumentException>().WithMessage("*'query'*'doc'*");
    }

    [Fact]
    public async Task Cancellation_stops_between_batches_with_no_partial_result()
    {
        using var cts = new CancellationTokenSource();
        var counter = new ForwardCounter(n => { if (n == 1) cts.Cancel(); });
        using var generator = TorchBertEmbeddingGenerator.FromPretrained(MeanFolder(), new TorchBertEmbeddingGeneratorOptions
        {
            Pipeline = new PipelineOptions { Device = CPU, BatchSize = 1, Verbose = true, Logger = counter },
        });
        var texts = Enumerable.Range(0, 6).Select(i => $"join jacob {i}").ToList();
        var act = () => generator.GenerateAsync(texts, cancellationToken: cts.Token);
        await act.Should().ThrowAsync<OperationCanceledException>();
        counter.Forwards.Should().Be(1, "the token is checked before each of the 6 batches; it was cancelled during the first");

        var before = () => generator.GenerateAsync(texts, cancellationToken: cts.Token);
        await before.Should().ThrowAsync<OperationCanceledException>();
        counter.Forwards.Should().Be(1, "an already cancelled call runs nothing");
    }

    [Fact]
    public async Task Parallel_calls_give_the_same_vectors_as_one_call()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(MeanFolder(), new PipelineOptions { Device = CPU, BatchSize = 2 });
        using var generator = pipe.AsIEmbeddingGenerator("tiny");
        var texts = Enumerable.Range(0, 12).Select(i => i % 2 == 0 ? $"join jacob {i}" : $"ア oneself {i} detectors").ToArray();
        var reference = pipe.Run(texts);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(k => Task.Run(() => generator.GenerateAsync(texts.Skip(k % 4).Take(6)))));
        for (int k = 0; k < results.Length; k++)
            for (int i = 0; i < 6; i++)
                results[k][i].Vector.ToArray().Should().Equal(reference[k % 4 + i], (a, b) => Math.Abs(a - b) < 1e-5, $"call {k}, text {k % 4 + i}");
        generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelId.Should().Be("tiny");
        (await generator.GenerateAsync([])).Should().BeEmpty();
    }
}
