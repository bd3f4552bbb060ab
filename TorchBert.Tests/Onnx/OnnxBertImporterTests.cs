using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Onnx;
using static TorchBert.Tests.Onnx.OnnxBuilder;

namespace TorchBert.Tests.Onnx;

/// <summary>The importer on hand-built graphs covering the export variants (see <see cref="TinyBertOnnx"/>).</summary>
public sealed class OnnxBertImporterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("torchbert-onnx-bert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(TinyBertOnnx spec) => Write(spec.Build());

    private string Write(byte[] bytes)
    {
        var path = Path.Combine(_dir, $"m{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Every tensor loads as HF's value at [o, i], whatever the layout in the file.</summary>
    private static void ShouldMatchHfValues(OnnxBertImport import)
    {
        foreach (var t in import.Weights.Tensors)
        {
            using var x = t.Load();
            x.is_contiguous().Should().BeTrue();
            var values = x.data<float>().ToArray();
            var inner = t.Shape.Length == 2 ? t.Shape[1] : 1;
            for (var j = 0; j < values.Length; j++)
                values[j].Should().Be(TinyBertOnnx.Value(t.Name, j / inner, j % inner), $"{t.Name}[{j}]");
        }
    }

    [Theory]
    [InlineData("", false, false, false, "erf", HiddenAct.Gelu)]
    [InlineData("bert.", true, false, false, "tanh", HiddenAct.GeluNew)]
    [InlineData("", false, true, false, "gelu-op", HiddenAct.Gelu)]
    [InlineData("bert.", false, false, true, "relu", HiddenAct.Relu)]
    public void Variants_import_with_HF_names_layouts_and_config(string prefix, bool fusedLn, bool gemm, bool unfolded,
        string activation, HiddenAct act)
    {
        var spec = new TinyBertOnnx
        {
            Prefix = prefix, FusedLayerNorm = fusedLn, GemmLinears = gemm, UnfoldedTranspose = unfolded,
            Activation = activation, Eps = fusedLn ? 1e-5f : 1e-12f, HeadsReshape = gemm ? "const" : "concat",
        };
        using var import = OnnxBertImporter.Import(Write(spec));
        var c = import.Config;
        (c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings)
            .Should().Be((11, 8, 2, 2, 12, 16));
        c.LayerNormEps.Should().Be(fusedLn ? 1e-5 : 1e-12);
        c.HiddenAct.Should().Be(act);
        import.HeadsSource.Should().StartWith("graph: Reshape").And.Contain("2, 4]");
        import.Weights.Tensors.Select(t => t.Name).Should()
            .BeEquivalentTo(BertStateDictLayout.Keys(c, pooler: true).Select(k => k.Key))
            .And.NotContain(n => n.Contains("position_ids") || n.StartsWith("bert."));
        import.Notes.Should().Contain(n => n.Contains("embeddings.position_ids"));
        if (prefix.Length > 0) import.Notes.Should().Contain(n => n.Contains("prefix 'bert.'"));
        ShouldMatchHfValues(import);
    }

    [Fact]
    public void Heads_come_from_the_argument_when_the_graph_hides_them()
    {
        var path = Write(new TinyBertOnnx { HeadsReshape = "none", Pooler = false, Activation = "none" });
        var act = () => OnnxBertImporter.Import(path);
        act.Should().Throw<CheckpointException>().WithMessage($"{path}: num_attention_heads cannot be read*pass numAttentionHeads");
        using var import = OnnxBertImporter.Import(path, numAttentionHeads: 4);
        import.Config.NumAttentionHeads.Should().Be(4);
        import.HeadsSource.Should().StartWith("argument");
        import.HasPooler.Should().BeFalse();
        import.Weights.Tensors.Should().NotContain(t => t.Name.StartsWith("pooler"));
        import.Notes.Should().Contain(n => n.Contains("hidden_act NOT RECOGNIZED"));
    }

    [Fact]
    public void Untraceable_bias_is_named()
    {
        var path = Write(new TinyBertOnnx { BreakQueryBias = true });
        var act = () => OnnxBertImporter.Import(path);
        act.Should().Throw<CheckpointException>()
            .WithMessage($"{path}: cannot trace the weight of 'encoder.layer.0.attention.self.query.bias'*");
    }

    [Fact]
    public void A_graph_without_word_embeddings_is_not_BERT()
    {
        var bytes = Model([Node("MatMul", ["x", "w"], ["y"]), Node("Relu", ["y"], ["z"])],
            [FloatTensor("w", [2, 2], [1, 0, 0, 1]), FloatTensor("classifier.bias", [2], [0, 0])],
            [ValueInfo("x", 1, "n", "2")], [ValueInfo("z", 1, "n", "2")]);
        var path = Write(bytes);
        var act = () => OnnxBertImporter.Import(path);
        act.Should().Throw<CheckpointException>()
            .WithMessage($"{path}: not a BERT graph: no initializer named 'embeddings.word_embeddings.weight'*w, classifier.bias*");
    }

    [Fact]
    public void Missing_BERT_tensor_is_named()
    {
        var bytes = Model([], [FloatTensor("embeddings.word_embeddings.weight", [3, 2], new float[6])]);
        var path = Write(bytes);
        var act = () => OnnxBertImporter.Import(path);
        act.Should().Throw<CheckpointException>().WithMessage($"{path}: not a BERT graph: no initializer 'embeddings.position_embeddings.weight'");
    }

    [Fact]
    public void Corrupt_file_is_a_CheckpointException()
    {
        var bytes = new TinyBertOnnx().Build();
        var path = Write(bytes[..(bytes.Length * 2 / 3)]);
        var act = () => OnnxBertImporter.Import(path);
        act.Should().Throw<CheckpointException>().WithMessage($"{path}: corrupt or truncated ONNX protobuf in ModelProto*");
    }
}
