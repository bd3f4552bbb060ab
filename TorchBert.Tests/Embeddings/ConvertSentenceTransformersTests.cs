using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Configuration;
using TorchBert.Pipelines;
using static TorchSharp.torch;

namespace TorchBert.Tests.Embeddings;

/// <summary>
/// <c>convert</c> keeps every file that decides behaviour: a converted sentence-transformers folder embeds as its
/// source, on texts shorter and longer than its <c>max_seq_length</c>.
/// </summary>
public sealed class ConvertSentenceTransformersTests(StFolders st) : IClassFixture<StFolders>
{
    private static readonly PipelineOptions Cpu = new() { Device = CPU };

    [Fact]
    public void The_embedded_minilm_has_its_hub_repos_sentence_transformers_files_and_its_conversion_embeds_the_same()
    {
        var source = DefaultModel.EnsureInstalled();
        var config = SentenceTransformerConfig.Read(source);
        config.FromModulesFile.Should().BeTrue();
        config.PoolingModes.Should().Equal(Pooling.Mean);
        config.Normalize.Should().BeTrue();
        config.MaxSeqLength.Should().Be(256);
        config.WordEmbeddingDimension.Should().Be(384);

        var dst = Path.Combine(st.Root, "minilm-converted");
        var report = ModelConverter.Convert(source, dst, new ConvertOptions { Overwrite = true });
        report.CopiedFiles.Should().Contain(["modules.json", "1_Pooling/config.json", "sentence_bert_config.json", "config_sentence_transformers.json", "vocab.txt"]);

        var longText = string.Join(" ", Enumerable.Repeat("The quick brown fox jumps over the lazy dog near the river bank.", 30));
        string[] texts = ["A man is eating food.", longText];
        using var a = SentenceEmbeddingPipeline.FromPretrained(source, Cpu);
        using var b = SentenceEmbeddingPipeline.FromPretrained(dst, Cpu);
        a.Tokenizer.Encode(longText).Length.Should().BeGreaterThan(256).And.BeLessThan(512);
        b.MaxSeqLength.Should().Be(256);
        var va = a.Run(texts);
        var vb = b.Run(texts);
        for (int i = 0; i < 2; i++) vb[i].Should().Equal(va[i], (x, y) => Math.Abs(x - y) < 1e-6, $"text {i}");

        // what the converted copy gave before (no sentence_bert_config.json: the long text embedded at 512 tokens)
        using var at512 = new SentenceEmbeddingPipeline(BertModel.FromPretrained(dst, new PretrainedOptions { Device = CPU }), b.Tokenizer, Cpu);
        at512.MaxSeqLength.Should().Be(512);
        Math.Abs(at512.Run(longText)[0] - va[1][0]).Should().BeGreaterThan(1e-2f, "the test would catch a converted folder that lost max_seq_length");
    }

    [Fact]
    public void A_converted_st_folder_keeps_pooling_normalize_prompts_lower_casing_and_max_seq_length()
    {
        var pooling = StFolders.PoolingConfig("pooling_mode_cls_token");
        var src = st.StFolder(pooling, normalize: false,
            ("sentence_bert_config.json", new Dictionary<string, object> { ["max_seq_length"] = 6, ["do_lower_case"] = true }),
            ("config_sentence_transformers.json", new Dictionary<string, object> { ["prompts"] = new Dictionary<string, string> { ["q"] = "join " }, ["default_prompt_name"] = "q" }),
            ("tokenizer_config.json", new Dictionary<string, object> { ["do_lower_case"] = false }));
        var dst = Path.Combine(st.Root, "st-converted");
        ModelConverter.Convert(src, dst);
        foreach (var f in new[] { "modules.json", "1_Pooling/config.json", "sentence_bert_config.json", "config_sentence_transformers.json", "tokenizer_config.json", "vocab.txt" })
            File.ReadAllText(Path.Combine(dst, f)).Should().Be(File.ReadAllText(Path.Combine(src, f)), f);

        string[] texts = ["JACOB", "Ledger Circulation Laser Invalid Oneself Detectors Join Jacob"];
        using var a = SentenceEmbeddingPipeline.FromPretrained(src, Cpu);
        using var b = SentenceEmbeddingPipeline.FromPretrained(dst, Cpu);
        b.Config.PoolingModes.Should().Equal(Pooling.Cls);
        b.Config.Normalize.Should().BeFalse();
        b.Config.DefaultPromptName.Should().Be("q");
        b.MaxSeqLength.Should().Be(6);
        var ea = a.Embed(texts);
        var eb = b.Embed(texts);
        eb.TokenCounts.Should().Equal(4, 6);
        for (int i = 0; i < 2; i++) eb.Vectors[i].Should().Equal(ea.Vectors[i], (x, y) => Math.Abs(x - y) < 1e-6, $"text {i}");
        // "join " + "jacob" lower-cased is recorded row 2: CLS of HF's hidden state, not normalized
        StFolders.Close(eb.Vectors[0], st.Hidden[1][0], 5e-5, "converted folder, recorded row 2");
    }
}
