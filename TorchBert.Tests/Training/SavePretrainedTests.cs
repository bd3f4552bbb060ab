using System.Text.Json.Nodes;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Tests.Training;

public class SavePretrainedTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "torchbert-save-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true); }

    [Fact]
    public void ModelRoundTripsWithHfKeysAndTiedDecoderOmitted()
    {
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU });
        model.SavePretrained(_dir);
        // the key set HF's safe serialization writes = the fixture's own model.safetensors (decoder weight omitted)
        var written = ReferenceSafeTensors.Read(Path.Combine(_dir, "model.safetensors"));
        var original = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "model.safetensors"));
        written.Keys.Order().Should().Equal(original.Keys.Order());
        foreach (var (k, v) in original) written[k].allclose(v, 0, 0).Should().BeTrue(k);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!;
        config["architectures"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal("BertForMaskedLM");
        config["model_type"]!.GetValue<string>().Should().Be("bert");
        config["torch_dtype"]!.GetValue<string>().Should().Be("float32");
        Directory.GetFiles(_dir, "*.tmp").Should().BeEmpty();

        using var reloaded = BertForMaskedLM.FromPretrained(_dir, new PretrainedOptions { Device = CPU });
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var ids = tensor(new long[] { 101, 7592, 103, 2088, 102 }, [1, 5]);
        model.forward(ids).Logits.allclose(reloaded.forward(ids).Logits, 0, 0).Should().BeTrue();
    }

    [Fact]
    public void TokenizerFilesAreWrittenAndReloadTheSameTokenizer()
    {
        var tokenizer = BertTokenizer.FromFolder(Fixtures.Dir("tiny-bert-mlm"));
        var files = tokenizer.SavePretrained(_dir);
        files.Should().BeEquivalentTo(["vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"]);
        File.ReadAllLines(Path.Combine(_dir, "vocab.txt")).Should().Equal(File.ReadAllLines(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "vocab.txt")));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "tokenizer_config.json")))!;
        config["tokenizer_class"]!.GetValue<string>().Should().Be("BertTokenizer");
        config["do_lower_case"]!.GetValue<bool>().Should().BeTrue();
        config["added_tokens_decoder"]!["103"]!["content"]!.GetValue<string>().Should().Be("[MASK]");
        var text = "Héllo, Mr. Bert! [MASK] unaffable 東京 ok?";
        var fromFolder = BertTokenizer.FromFolder(_dir);
        var fromJson = BertTokenizer.FromTokenizerJson(Path.Combine(_dir, "tokenizer.json"));
        fromFolder.Encode(text, "pair text").InputIds.Should().Equal(tokenizer.Encode(text, "pair text").InputIds);
        fromJson.Encode(text, "pair text").InputIds.Should().Equal(tokenizer.Encode(text, "pair text").InputIds);
        fromJson.MaskTokenId.Should().Be(103);
    }
}
