using Microsoft.ML.OnnxRuntime;
using TorchBert.Configuration;
using TorchBert.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TorchBert.Tests.Onnx;

public class MiniLMImportTests(MiniLMFixture f, ITestOutputHelper output) : IClassFixture<MiniLMFixture>
{
    [Fact]
    public void Inferred_config_is_all_MiniLM_L6_v2s()
    {
        using var import = OnnxBertImporter.Import(f.ModelPath);
        var c = import.Config;
        (c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize)
            .Should().Be((30522, 384, 6, 12, 1536));
        (c.MaxPositionEmbeddings, c.TypeVocabSize, c.LayerNormEps, c.HiddenAct).Should().Be((512, 2, 1e-12, HiddenAct.Gelu));
        c.HeadSize.Should().Be(32);
        import.HeadsSource.Should().StartWith("graph: Reshape").And.Contain("12, 32");
        import.HasPooler.Should().BeTrue();
        import.Weights.Format.Should().Be("onnx");
        foreach (var note in import.Notes) output.WriteLine(note);
    }

    [Fact]
    public void Heads_argument_must_agree_with_the_graph()
    {
        using (var same = OnnxBertImporter.Import(f.ModelPath, numAttentionHeads: 12))
            same.Config.NumAttentionHeads.Should().Be(12);
        var act = () => OnnxBertImporter.Import(f.ModelPath, numAttentionHeads: 6);
        act.Should().Throw<TorchBert.Checkpoints.CheckpointException>().WithMessage("*6 was given*graph uses 12*");
    }

    [Fact]
    public void Key_set_and_shapes_are_exactly_HF_BertModels()
    {
        var expected = new Dictionary<string, long[]>
        {
            ["embeddings.word_embeddings.weight"] = [30522, 384],
            ["embeddings.position_embeddings.weight"] = [512, 384],
            ["embeddings.token_type_embeddings.weight"] = [2, 384],
            ["embeddings.LayerNorm.weight"] = [384],
            ["embeddings.LayerNorm.bias"] = [384],
            ["pooler.dense.weight"] = [384, 384],
            ["pooler.dense.bias"] = [384],
        };
        for (var l = 0; l < 6; l++)
        {
            var p = $"encoder.layer.{l}.";
            foreach (var m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                expected[$"{p}{m}.weight"] = [384, 384];
                expected[$"{p}{m}.bias"] = [384];
            }
            foreach (var ln in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                expected[$"{p}{ln}.weight"] = [384];
                expected[$"{p}{ln}.bias"] = [384];
            }
            expected[$"{p}intermediate.dense.weight"] = [1536, 384];
            expected[$"{p}intermediate.dense.bias"] = [1536];
            expected[$"{p}output.dense.weight"] = [384, 1536];
            expected[$"{p}output.dense.bias"] = [384];
        }

        using var import = OnnxBertImporter.Import(f.ModelPath);
        var tensors = import.Weights.Tensors;
        tensors.Select(t => t.Name).Should().OnlyHaveUniqueItems().And.BeEquivalentTo(expected.Keys);
        foreach (var t in tensors)
        {
            t.Shape.Should().Equal(expected[t.Name], t.Name);
            t.DType.Should().Be(ScalarType.Float32);
        }
        var sources = tensors.Cast<OnnxCheckpointTensor>().ToList();
        sources.Count(s => s.Transposed).Should().Be(36); // 6 per layer; the pooler is a Gemm(transB=1) on its named weight
        sources.Single(s => s.Name == "pooler.dense.weight").Transposed.Should().BeFalse();
        output.WriteLine(string.Join("\n", sources.Where(s => s.Name.StartsWith("encoder.layer.0.")).Select(s => $"{s.Name} <- {s.Source}")));
    }

    [Fact]
    public void Query_weight_is_transposed_to_out_in_and_computes_the_same_linear()
    {
        using var import = OnnxBertImporter.Import(f.ModelPath);
        var q = import.Weights.Tensors.Cast<OnnxCheckpointTensor>().Single(t => t.Name == "encoder.layer.3.attention.self.query.weight");
        using var wHf = q.Load();
        using var wOnnx = q.LoadStored();
        using var b = import.Weights.Tensors.Single(t => t.Name == "encoder.layer.3.attention.self.query.bias").Load();
        wHf.is_contiguous().Should().BeTrue();
        wHf.shape.Should().Equal(384, 384);
        wHf.allclose(wOnnx.t(), rtol: 0, atol: 0).Should().BeTrue();
        wHf.allclose(wOnnx, rtol: 0, atol: 0).Should().BeFalse();

        var x = torch.randn([1, 384], generator: new Generator(7));
        using var onnxWay = x.matmul(wOnnx) + b;                    // the graph: Add(bias, MatMul(x, W_onnx))
        using var hfWay = (wHf.matmul(x.t())).t() + b;               // nn.Linear: W x + b
        using var linear = torch.nn.functional.linear(x, wHf, b);
        hfWay.allclose(onnxWay, rtol: 1e-5, atol: 1e-5).Should().BeTrue();
        linear.allclose(onnxWay, rtol: 1e-5, atol: 1e-5).Should().BeTrue();
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.999999)]
    public void Truncated_model_is_a_CheckpointException(double fraction)
    {
        var path = Path.Combine(f.Directory, $"truncated-{fraction}.onnx");
        using (var source = File.OpenRead(f.ModelPath))
        using (var target = File.Create(path))
        {
            var keep = (long)(source.Length * fraction);
            var buffer = new byte[1 << 20];
            for (long left = keep; left > 0;)
            {
                var n = source.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                target.Write(buffer, 0, n);
                left -= n;
            }
        }
        try
        {
            var act = () => OnnxBertImporter.Import(path);
            act.Should().Throw<TorchBert.Checkpoints.CheckpointException>().WithMessage($"{path}: corrupt or truncated*");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void OnnxRuntime_inputs_outputs_and_pooler_parity()
    {
        using var session = new InferenceSession(f.ModelPath);
        string Describe(KeyValuePair<string, NodeMetadata> m) =>
            $"{m.Key} {m.Value.ElementDataType} [{string.Join(", ", m.Value.Dimensions.Select((d, i) => d >= 0 ? d.ToString() : m.Value.SymbolicDimensions[i]))}]";
        foreach (var m in session.InputMetadata) output.WriteLine("input  " + Describe(m));
        foreach (var m in session.OutputMetadata) output.WriteLine("output " + Describe(m));
        session.InputMetadata.Keys.Should().Equal("input_ids", "attention_mask", "token_type_ids");
        session.OutputMetadata.Keys.Should().Equal("last_hidden_state", "924");

        long[] ids = [101, 7592, 2088, 102], mask = [1, 1, 1, 1], types = [0, 0, 0, 0];
        using var idsV = OrtValue.CreateTensorValueFromMemory(ids, [1, 4]);
        using var maskV = OrtValue.CreateTensorValueFromMemory(mask, [1, 4]);
        using var typesV = OrtValue.CreateTensorValueFromMemory(types, [1, 4]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [idsV, maskV, typesV],
            ["last_hidden_state", "924"]);
        results[0].GetTensorTypeAndShape().Shape.Should().Equal(1, 4, 384);
        results[1].GetTensorTypeAndShape().Shape.Should().Equal(1, 384);

        // The pooler's Gemm(transB=1) weight was imported untransposed: tanh(W h_cls + b) must match ORT's output.
        using var import = OnnxBertImporter.Import(f.ModelPath);
        using var w = import.Weights.Tensors.Single(t => t.Name == "pooler.dense.weight").Load();
        using var b = import.Weights.Tensors.Single(t => t.Name == "pooler.dense.bias").Load();
        using var hidden = torch.tensor(results[0].GetTensorDataAsSpan<float>().ToArray(), [1, 4, 384]);
        using var pooled = torch.tanh(torch.nn.functional.linear(hidden[.., 0], w, b));
        using var ort = torch.tensor(results[1].GetTensorDataAsSpan<float>().ToArray(), [1, 384]);
        pooled.allclose(ort, rtol: 1e-4, atol: 1e-5).Should().BeTrue();
    }
}
