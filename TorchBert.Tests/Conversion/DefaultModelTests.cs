using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Onnx;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Conversion;

public sealed class DefaultModelTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-default-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void Embedded_minilm_imports_once_into_weights_and_matches_the_onnx_weights_exactly()
    {
        var log = new ListLogger();
        var dir = DefaultModel.EnsureInstalled(log, temp);
        dir.Should().Be(Path.Combine(temp, DefaultModel.Name));
        log.ToString().Should().Contain("importing the embedded all-MiniLM-L6-v2");
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(dir, "model.safetensors"));

        var again = new ListLogger();
        DefaultModel.EnsureInstalled(again, temp).Should().Be(dir);
        again.ToString().Should().BeEmpty("the second run reuses the folder");
        File.GetLastWriteTimeUtc(Path.Combine(dir, "model.safetensors")).Should().Be(stamp);
        File.ReadAllLines(Path.Combine(dir, "vocab.txt")).Should().HaveCount(30522);

        using var model = BertModel.FromPretrained(dir, new PretrainedOptions { Device = CPU });
        model.Config.HiddenSize.Should().Be(384);
        model.Config.NumAttentionHeads.Should().Be(12);
        model.Pooler.Should().NotBeNull();
        model.ParameterCount().Should().Be(22_713_216L, "all-MiniLM-L6-v2 with pooler");

        var onnxDir = Path.Combine(temp, "onnx");
        var onnxPath = EmbeddedMiniLM.ExtractTo(onnxDir);
        using var fromOnnx = BertModel.FromPretrained(onnxPath, new PretrainedOptions { Device = CPU });
        var reference = fromOnnx.state_dict();
        foreach (var (key, value) in model.state_dict())
            value.allclose(reference[key], 0, 0).Should().BeTrue($"{key} is bit-identical to the ONNX initializer");
    }
}
