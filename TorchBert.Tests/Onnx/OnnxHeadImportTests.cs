using TorchBert.Modeling;
using TorchBert.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Onnx;

/// <summary>Task heads exported with BERT (classifier, qa_outputs, NSP) imported by the same MatMul/Add/Gemm tracing as the encoder.</summary>
public sealed class OnnxHeadImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("torchbert-onnx-heads-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(TinyBertOnnx spec)
    {
        var path = Path.Combine(_dir, $"m{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, spec.Build());
        return path;
    }

    [Theory]
    [InlineData("classifier", false, 3, "BertForSequenceClassification", 3)]
    [InlineData("token-classifier", false, 5, "BertForTokenClassification", 5)]
    [InlineData("classifier", true, 1, "BertForMultipleChoice", 2)]
    [InlineData("qa_outputs", false, 2, "BertForQuestionAnswering", 2)]
    [InlineData("cls.seq_relationship", false, 2, "BertForNextSentencePrediction", 2)]
    public void Heads_import_with_hf_names_values_and_the_architecture_they_imply(string head, bool choices, int outputs, string architecture, int numLabels)
    {
        var path = Write(new TinyBertOnnx { Prefix = "bert.", Head = head, HeadOutputs = outputs, ChoicesInput = choices });
        using (var import = OnnxBertImporter.Import(path))
        {
            var module = head == "token-classifier" ? "classifier" : head;
            import.Config.Architectures.Should().Equal(architecture);
            import.Config.NumLabels.Should().Be(numLabels);
            import.Notes.Should().Contain(n => n.StartsWith($"task head {module} ({outputs} outputs): {architecture}"));
            var weight = import.Weights.Tensors.Single(t => t.Name == module + ".weight");
            weight.Shape.Should().Equal(outputs, TinyBertOnnx.Hidden);
            using var w = weight.Load();
            for (int o = 0; o < outputs; o++)
            for (int i = 0; i < TinyBertOnnx.Hidden; i++)
                w[o, i].item<float>().Should().Be(TinyBertOnnx.Value(module + ".weight", o, i), $"{module}.weight[{o}, {i}] in HF's [out, in] layout");
        }

        using var model = BertAutoModel.FromPretrained(path, new PretrainedOptions { Device = CPU });
        model.GetType().Name.Should().Be(architecture);
        model.LoadReport!.NewlyInitialized.Should().BeEmpty("the export carries the head and the pooler");
    }
}
