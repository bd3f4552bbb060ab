using System.Text.Json;
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
}
