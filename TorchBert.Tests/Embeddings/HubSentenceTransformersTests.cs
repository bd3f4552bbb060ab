using System.Text;
using System.Text.Json;
using TorchBert.Loading;
using TorchBert.Hub;
using TorchBert.Configuration;
using TorchBert.Pipelines;
using TorchBert.Tests.Hub;
using static TorchSharp.torch;

namespace TorchBert.Tests.Embeddings;

/// <summary>A Hub id of a sentence-transformers repo: its modules.json and pooling config come down with the weights and decide.</summary>
public sealed class HubSentenceTransformersTests(StFolders st) : IClassFixture<StFolders>, IDisposable
{
    private readonly HubSandbox s = new();
    public void Dispose() => s.Dispose();

    [Fact]
    public void Sentence_embeddings_of_a_hub_id_fetch_the_st_files_and_convert_keeps_them()
    {
        var files = HubSandbox.TinyFiles();
        files.Remove("pytorch_model.bin");
        files["vocab.txt"] = File.ReadAllBytes(Path.Combine(st.Root, "vocab.txt"));
        files["modules.json"] = JsonSerializer.SerializeToUtf8Bytes(StFolders.Modules(normalize: false));
        files["1_Pooling/config.json"] = JsonSerializer.SerializeToUtf8Bytes(StFolders.PoolingConfig("pooling_mode_cls_token"));
        files["config_sentence_transformers.json"] = Encoding.UTF8.GetBytes("""{"prompts": {"doc": "join "}, "default_prompt_name": "doc"}""");
        s.Hub.AddRepo("org/st-cls", files, "model.safetensors");
        var locator = s.Locator();
        {
            using (var pipe = SentenceEmbeddingPipeline.FromPretrained("org/st-cls", new PipelineOptions { Device = CPU, Locator = locator }))
            {
                pipe.Config.PoolingModes.Should().Equal(Pooling.Cls);
                StFolders.Close(pipe.Run("jacob"), st.Hidden[1][0], 5e-5, "CLS of recorded row 2 ('doc' prompt by default, no Normalize)");
            }
            var dst = Path.Combine(st.Root, "hub-converted");
            ModelConverter.Convert("org/st-cls", dst, new ConvertOptions { Locator = locator }).CopiedFiles.Should().Contain(["modules.json", "1_Pooling/config.json", "config_sentence_transformers.json"]);
            using var converted = SentenceEmbeddingPipeline.FromPretrained(dst, new PipelineOptions { Device = CPU });
            StFolders.Close(converted.Run("jacob"), st.Hidden[1][0], 5e-5, "converted from the Hub id");
        }
    }
}
