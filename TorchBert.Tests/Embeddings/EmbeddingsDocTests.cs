using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Pipelines;

namespace TorchBert.Tests.Embeddings;

/// <summary>docs/embeddings.md's examples: the lines between the markers below are the page's code blocks, run here.</summary>
public sealed class EmbeddingsDocTests(StFolders st) : IClassFixture<StFolders>
{
    [Fact]
    public async Task The_semantic_search_example_finds_the_soup_recipe()
    {
        var output = new StringWriter();
        var Console = output;                                         // the example prints; capture it
        // docs/embeddings.md begin
        var services = new ServiceCollection();
        services.AddTorchBertEmbeddingGenerator("sentence-transformers/all-MiniLM-L6-v2");
        using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();

        string[] documents = ["The cat sleeps on the sofa.", "Stock markets fell sharply today.", "Add the tomatoes and simmer the soup for ten minutes.", "The match ended in a draw."];
        var vectors = await generator.GenerateAsync(documents);
        var query = await generator.GenerateVectorAsync("How do I cook a soup?");
        var best = documents.Zip(vectors).MaxBy(d => Similarity.Cosine(query.Span, d.Second.Vector.Span)).First;
        Console.WriteLine(best);   // Add the tomatoes and simmer the soup for ten minutes.
        // docs/embeddings.md end
        output.ToString().Trim().Should().Be("Add the tomatoes and simmer the soup for ten minutes.");
    }

    [Fact]
    public void The_folder_override_example_runs()
    {
        var pooling = StFolders.PoolingConfig("pooling_mode_cls_token");
        var folder = st.StFolder(pooling, normalize: true,
            ("config_sentence_transformers.json", new Dictionary<string, object> { ["prompts"] = new Dictionary<string, string> { ["query"] = "join " } }));
        // docs/embeddings.md block 2 begin
        // a folder (or Hub id) whose config_sentence_transformers.json has a "query" prompt
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(folder, embedding: new SentenceEmbeddingOptions { Pooling = Pooling.Mean, Normalize = false });
        var v = pipe.Run(["what is BERT?"], new SentenceEmbeddingParameters { PromptName = "query", Dimensions = 16 });
        SentenceEmbeddings e = pipe.Embed(["what is BERT?"]);   // vectors and token counts
        // docs/embeddings.md block 2 end
        v[0].Should().HaveCount(16);
        e.Vectors[0].Should().HaveCount(32);
        e.TokenCounts[0].Should().Be(pipe.Tokenizer.Encode("what is BERT?").Length);
        // the override: mean, not normalized, of "join jacob" (recorded row 2), whatever the folder says
        StFolders.Close(pipe.Run("jacob", new SentenceEmbeddingParameters { PromptName = "query" }), StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1]), 5e-5, "overrides");
    }

    [Theory]
    [InlineData("docs/embeddings.md", 0, "")]
    [InlineData("docs/embeddings.md", 1, " block 2")]
    [InlineData("docs/packages/TorchBert.md", 1, "")]          // the library package's README shows the same semantic search
    public void The_page_shows_exactly_the_lines_the_tests_run(string pagePath, int block, string marker)
    {
        var source = File.ReadAllLines(ThisFile());
        var begin = Array.FindIndex(source, l => l.Trim() == $"// docs/embeddings.md{marker} begin");
        var end = Array.FindIndex(source, l => l.Trim() == $"// docs/embeddings.md{marker} end");
        var tested = source[(begin + 1)..end].Select(l => l.Trim()).ToList();

        var page = File.ReadAllLines(Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", pagePath));
        var open = -1;
        for (int k = 0; k <= block; k++) open = Array.FindIndex(page, open + 1, l => l.Trim() == "```csharp");
        var close = Array.FindIndex(page, open + 1, l => l.Trim() == "```");
        var shown = page[(open + 1)..close].Select(l => l.Trim())
            .Where(l => !(l.StartsWith("using ", StringComparison.Ordinal) && !l.Contains('='))).ToList();   // the page's using directives
        while (shown.Count > 0 && shown[0].Length == 0) shown.RemoveAt(0);
        shown.Should().Equal(tested);
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;
}
