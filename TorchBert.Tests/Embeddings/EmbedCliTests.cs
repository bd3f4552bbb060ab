using System.Text.Json;
using Parquet.Serialization;
using TorchBert.Corpus;
using TorchBert.Tests.Cli;

namespace TorchBert.Tests.Embeddings;

/// <summary><c>torchbert embed</c> on sentence-transformers folders: the folder decides, the flags override.</summary>
public sealed class EmbedCliTests(StFolders st) : IClassFixture<StFolders>
{
    private float[][] Embed(params string[] args)
    {
        var r = CliRunner.Run(Path.Combine(st.Root, "weights"), st.Root, ["embed", "--json", .. args]);
        r.ExitCode.Should().Be(0, r.ToString());
        return JsonSerializer.Deserialize<float[][]>(r.Stdout)!;
    }

    [Fact]
    public void Embed_uses_the_folders_cls_pooling_and_prompts_and_the_flags_override_them()
    {
        var dir = st.StFolder(StFolders.PoolingConfig("pooling_mode_cls_token"), normalize: true,
            ("config_sentence_transformers.json", new Dictionary<string, object> { ["prompts"] = new Dictionary<string, string> { ["doc"] = "join " } }));
        StFolders.Close(Embed("--model", dir, StFolders.Row2Text)[0], StFolders.Normalize(st.Hidden[1][0]), 5e-5, "CLS + Normalize from the folder");
        StFolders.Close(Embed("--model", dir, "--prompt-name", "doc", "jacob")[0], StFolders.Normalize(st.Hidden[1][0]), 5e-5, "--prompt-name");
        StFolders.Close(Embed("--model", dir, "--pooling", "max", "--no-normalize", StFolders.Row2Text)[0],
            StFolders.Pool("pooling_mode_max_tokens", st.Hidden[1]), 5e-5, "--pooling max --no-normalize");

        var bad = CliRunner.Run(Path.Combine(st.Root, "weights"), st.Root, "embed", "--model", dir, "--prompt-name", "query", "jacob");
        bad.ExitCode.Should().Be(1);
        bad.Stderr.Should().Contain("prompt name 'query' is not one of the model's prompts ('doc')");
    }

    /// <summary>
    /// Corpus mode (<c>--input corpus.jsonl --output DIR/</c>) embeds with the same --prompt-name / --prompt as the normal
    /// command. Oracle: sentence-transformers' CLS + Normalize on HF's recorded hidden state of "join jacob" (the prompt
    /// "join " + the record "jacob"); without the prompt the vector is another one, so the test can tell.
    /// </summary>
    [Fact]
    public async Task Corpus_embed_applies_the_prompt_name_and_prompt_as_the_normal_command()
    {
        var dir = st.StFolder(StFolders.PoolingConfig("pooling_mode_cls_token"), normalize: true,
            ("config_sentence_transformers.json", new Dictionary<string, object> { ["prompts"] = new Dictionary<string, string> { ["doc"] = "join " } }));
        var work = Directory.CreateDirectory(Path.Combine(st.Root, $"corpus-{Guid.NewGuid():N}")).FullName;
        var input = Path.Combine(work, "corpus.jsonl");
        File.WriteAllText(input, "{\"id\":\"a\",\"text\":\"jacob\"}\n{\"id\":\"b\",\"text\":\"jacob\"}\n");
        var expected = StFolders.Normalize(st.Hidden[1][0]);
        var normal = Embed("--model", dir, "--prompt-name", "doc", "jacob")[0];
        StFolders.Close(normal, expected, 5e-5, "the normal command with --prompt-name");

        async Task<float[][]> Corpus(string name, params string[] flags)
        {
            var r = CliRunner.Run(Path.Combine(st.Root, "weights"), work, ["embed", "--model", dir, "--input", input, "--output", name + "/", "--shard", "0/1", .. flags]);
            r.ExitCode.Should().Be(0, r.ToString());
            var rows = (await ParquetSerializer.DeserializeAsync<EmbeddingCorpusTask.EmbeddingRow>(Path.Combine(work, name, "part-000000.parquet"))).Data;
            rows.Select(x => x.Id).Should().Equal("a", "b");
            return rows.Select(x => x.Embedding).ToArray();
        }

        foreach (var (name, flags) in new[] { ("by-name", new[] { "--prompt-name", "doc" }), ("literal", new[] { "--prompt", "join " }) })
            foreach (var v in await Corpus(name, flags))
            {
                StFolders.Close(v, expected, 5e-5, $"corpus mode {string.Join(' ', flags)}");
                v.Should().Equal(normal, (a, b) => Math.Abs(a - b) <= 1e-6, "the shard's vector is the normal command's");
            }
        var plain = (await Corpus("no-prompt"))[0];
        plain.Zip(expected).Max(p => Math.Abs(p.First - p.Second)).Should().BeGreaterThan(1e-3, "without the prompt the record is embedded as 'jacob' alone");

        var unknown = CliRunner.Run(Path.Combine(st.Root, "weights"), work, "embed", "--model", dir, "--input", input, "--output", "unknown/", "--prompt-name", "query");
        unknown.ExitCode.Should().Be(1, unknown.ToString());
        unknown.Stderr.Should().Contain("prompt name 'query' is not one of the model's prompts ('doc')");
        Directory.Exists(Path.Combine(work, "unknown")).Should().BeFalse("the prompt is checked before anything is written");

        var rerun = CliRunner.Run(Path.Combine(st.Root, "weights"), work, "embed", "--model", dir, "--input", input, "--output", "by-name/", "--prompt", "");
        rerun.ExitCode.Should().Be(1, rerun.ToString());
        rerun.Stderr.Should().Contain("another job").And.Contain("prompt", "the prompt is one of the job's settings: other vectors are not mixed into the folder");

        var json = CliRunner.Run(Path.Combine(st.Root, "weights"), work, "embed", "--model", dir, "--input", input, "--output", "json/", "--json");
        json.ExitCode.Should().Be(2, json.ToString());
        json.StderrLines.Should().ContainSingle().Which.Should().StartWith("torchbert: error: --json does not apply to a corpus job");
    }
}
