using System.Net;
using System.Text.Json;
using TorchBert.Pipelines;
using TorchBert.Server;
using static TorchSharp.torch;

namespace TorchBert.Server.Tests;

/// <summary>
/// sentence-transformers folders served by /embed: the server embeds as the library's <see cref="SentenceEmbeddingPipeline"/>
/// (checked against sentence-transformers' arithmetic in TorchBert.Tests' SentenceTransformerFolderTests) on the same
/// folder: CLS pooling, do_lower_case with the strip, and include_prompt = false with the prompt the request names.
/// </summary>
public sealed class SentenceTransformerRouteTests
{
    private static readonly PipelineOptions Cpu = new() { Device = CPU };

    private static string Cls => StTestFolders.Folder("cls",
        ("modules.json", StTestFolders.Modules(normalize: true)), ("1_Pooling/config.json", StTestFolders.Pooling("pooling_mode_cls_token")));

    /// <summary>A cased tokenizer (tokenizer_config.json) under sentence_bert_config.json's do_lower_case = true.</summary>
    private static string LowerCase => StTestFolders.Folder("lower",
        ("modules.json", StTestFolders.Modules(normalize: true)), ("1_Pooling/config.json", StTestFolders.Pooling("pooling_mode_mean_tokens")),
        ("tokenizer_config.json", new { do_lower_case = false }), ("sentence_bert_config.json", new { max_seq_length = 16, do_lower_case = true }));

    /// <summary>Mean pooling with include_prompt = false and two prompts of different token lengths (query: 1 token, doc: 3).</summary>
    private static string Prompts
    {
        get
        {
            var pooling = StTestFolders.Pooling("pooling_mode_mean_tokens");
            pooling["include_prompt"] = false;
            return StTestFolders.Folder("prompts",
                ("modules.json", StTestFolders.Modules(normalize: true)), ("1_Pooling/config.json", pooling),
                ("config_sentence_transformers.json", new { prompts = new { query = "query: ", doc = "join jacob here: " }, default_prompt_name = "query" }));
        }
    }

    private static async Task<float[][]> EmbedAsync(HttpClient client, object body)
    {
        var (status, json, _) = await client.PostAsync("/embed", JsonSerializer.Serialize(body));
        status.Should().Be(HttpStatusCode.OK, json.ToString());
        return json.EnumerateArray().Select(v => v.Floats()).ToArray();
    }

    [Fact]
    public async Task A_cls_folder_embeds_its_cls_token_as_the_library_does()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(Cls, "cls")] });
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(Cls, Cpu);
        pipe.Pooling.Should().Be(TorchBert.Configuration.Pooling.Cls);
        string[] texts = ["[MASK] oneself detectors", "join jacob"];
        var vectors = await EmbedAsync(server.Client, new { inputs = texts });
        for (int i = 0; i < texts.Length; i++) vectors[i].ShouldEqual(pipe.Run(texts[i]), 1e-6);
        var info = JsonDocument.Parse(await server.Client.GetStringAsync("/info")).RootElement;
        info.GetProperty("model_type").GetProperty("embedding").GetProperty("pooling").GetString().Should().Be("cls");
    }

    [Fact]
    public async Task A_do_lower_case_folder_lower_cases_and_strips_as_sentence_transformers()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(LowerCase, "lower")] });
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(LowerCase, Cpu);
        // the cased tokenizer alone does not know "JOIN" (bert-base-uncased's vocabulary): the lower-casing is what matters
        pipe.Tokenizer.Encode("JOIN JACOB").InputIds.Should().NotEqual([101L, 3693, 6213, 102]);
        var (status, json, response) = await server.Client.PostAsync("/embed", JsonSerializer.Serialize(new { inputs = "  JOIN JACOB \t" }));
        status.Should().Be(HttpStatusCode.OK);
        // [CLS] join jacob [SEP] = bert-base-uncased ids 101 3693 6213 102
        response.Headers.GetValues("x-compute-tokens").Single().Should().Be("4");
        json[0].Floats().ShouldEqual(pipe.Run("  JOIN JACOB \t"), 1e-6);
        json[0].Floats().ShouldEqual(pipe.Run("join jacob"), 1e-6);
    }

    [Fact]
    public async Task Include_prompt_false_leaves_out_the_prompt_the_request_names()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(Prompts, "prompts")] });
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(Prompts, Cpu);
        pipe.Config.IncludePrompt.Should().BeFalse();
        const string text = "oneself detectors";
        var doc = new SentenceEmbeddingParameters { PromptName = "doc" };
        (await EmbedAsync(server.Client, new { inputs = text, prompt_name = "doc" }))[0].ShouldEqual(pipe.Run(text, doc), 1e-6);
        (await EmbedAsync(server.Client, new { inputs = text }))[0].ShouldEqual(pipe.Run(text), 1e-6);
        // the prompt is left out: not the mean over the whole "join jacob here: oneself detectors"
        pipe.Run(text, doc).Should().NotEqual(pipe.Run("join jacob here: " + text, new SentenceEmbeddingParameters { Prompt = "" }));

        // requests with different prompts can share one batch: each row still leaves out its own prompt
        var both = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            EmbedAsync(server.Client, i % 2 == 0 ? new { inputs = text, prompt_name = "doc" } : (object)new { inputs = text, prompt_name = "query" })));
        for (int i = 0; i < both.Length; i++)
            both[i][0].ShouldEqual(pipe.Run(text, new SentenceEmbeddingParameters { PromptName = i % 2 == 0 ? "doc" : "query" }), 1e-6);
    }

    [Fact]
    public async Task The_default_prompt_name_option_is_the_prompt_left_out()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(Prompts, "prompts")], DefaultPromptName = "doc" });
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(Prompts, Cpu, new SentenceEmbeddingOptions { DefaultPromptName = "doc" });
        const string text = "oneself detectors";
        (await EmbedAsync(server.Client, new { inputs = text }))[0].ShouldEqual(pipe.Run(text, new SentenceEmbeddingParameters { PromptName = "doc" }), 1e-6);
    }
}
