using Microsoft.ML.OnnxRuntime;
using TorchBert.Onnx;
using TorchBert.Tests.Onnx;
using static TorchBert.Tests.Onnx.OnnxBuilder;

namespace TorchBert.Tests.OrtParity;

public class OnnxOutputExposerTests
{
    /// <summary>y = x + x, z = y * x; only z is an output. Unknown fields (ModelProto 99, GraphProto 99) ride along.</summary>
    private static byte[] TinyModel()
    {
        var graph = new ProtoWriter()
            .Message(1, Node("Add", ["x", "x"], ["y"]))
            .Message(1, Node("Mul", ["y", "x"], ["z"]))
            .String(2, "tiny")
            .Message(11, ValueInfo("x", OnnxSchema.Float, "2"))
            .Message(12, ValueInfo("z", OnnxSchema.Float, "2"))
            .String(99, "graph-unknown");
        return new ProtoWriter().Varint(1, 8).String(2, "torchbert-tests").Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, 17)).Varint(99, 12345).ToArray();
    }

    /// <summary>(field, raw bytes of the whole field) of each top-level field, in order.</summary>
    private static List<(int Field, byte[] Raw)> Fields(byte[] bytes)
    {
        var list = new List<(int, byte[])>();
        var r = new ProtoReader(bytes, 0, "test", "ModelProto", "ModelProto");
        while (true)
        {
            var start = (int)r.Offset;
            if (!r.Next()) break;
            var field = r.Field;
            r.Skip();
            list.Add((field, bytes[start..(int)r.Offset]));
        }
        return list;
    }

    private static byte[] GraphBytes(byte[] model)
    {
        var r = new ProtoReader(model, 0, "test", "ModelProto", "ModelProto");
        while (r.Next())
        {
            if (r.Field == 7) return r.Bytes(out _).ToArray();
            r.Skip();
        }
        throw new InvalidOperationException("no graph");
    }

    [Fact]
    public void Nothing_to_expose_gives_the_same_bytes()
    {
        var model = TinyModel();
        OnnxOutputExposer.Expose(model, []).Should().Equal(model);
        OnnxOutputExposer.Expose(model, ["z"]).Should().Equal(model, "z is already an output");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Exposed_value_is_appended_and_everything_else_is_kept_verbatim(bool typed)
    {
        var model = TinyModel();
        var exposed = OnnxOutputExposer.Expose(model, ["y", "z", "x"], typed ? OnnxSchema.Float : null);

        OnnxOutputExposer.GraphOutputs(exposed).Should().Equal("z", "y", "x");
        var before = Fields(model);
        var after = Fields(exposed);
        after.Select(f => f.Field).Should().Equal(before.Select(f => f.Field));
        foreach (var (b, a) in before.Zip(after).Where(p => p.First.Field != 7))
            a.Raw.Should().Equal(b.Raw, $"field {b.Field} is copied verbatim");
        var graphBefore = GraphBytes(model);
        var graphAfter = GraphBytes(exposed);
        graphAfter.Take(graphBefore.Length).Should().Equal(graphBefore, "the graph's bytes are kept and outputs appended");

        // The appended bytes are output entries: ValueInfoProto{name, [type{tensor_type{elem_type=1}}]}.
        var tail = graphAfter[graphBefore.Length..];
        var expectedTail = new ProtoWriter();
        foreach (var name in new[] { "y", "x" })
        {
            var vi = new ProtoWriter().String(1, name);
            if (typed) vi.Message(2, new ProtoWriter().Message(1, new ProtoWriter().Varint(1, 1)));
            expectedTail.Message(12, vi);
        }
        tail.Should().Equal(expectedTail.ToArray());

        // The library's parser reads it (unknown fields skipped) ...
        var path = Path.Combine(Path.GetTempPath(), $"torchbert-exposed-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, exposed);
        try
        {
            using var parsed = OnnxModel.Open(path);
            parsed.Graph.Outputs.Select(o => o.Name).Should().Equal("z", "y", "x");
            parsed.Graph.Outputs[1].ElemType.Should().Be(typed ? OnnxSchema.Float : 0);
        }
        finally { File.Delete(path); }

        // ... and so does ONNX Runtime, returning the intermediate value.
        using var session = new InferenceSession(exposed);
        session.OutputMetadata.Keys.Should().Equal("z", "y", "x");
        float[] x = [1.5f, -2f];
        using var xv = OrtValue.CreateTensorValueFromMemory(x, [2]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["x"], [xv], ["y", "z"]);
        results[0].GetTensorDataAsSpan<float>().ToArray().Should().Equal(3f, -4f);
        results[1].GetTensorDataAsSpan<float>().ToArray().Should().Equal(4.5f, 8f);
    }

    [Fact]
    public void Unknown_names_are_rejected_by_name()
    {
        var act = () => OnnxOutputExposer.Expose(TinyModel(), ["y", "nope", "also_nope"], file: "tiny.onnx");
        act.Should().Throw<ArgumentException>().WithMessage("tiny.onnx: *'nope', 'also_nope'*");
    }

    [Fact]
    public void Graph_length_prefix_grows_past_a_varint_byte_boundary()
    {
        // A graph under 128 bytes has a 1-byte length prefix; exposing one more output takes it past 127 (2 bytes).
        var inner = new string('v', 20);
        var graph = new ProtoWriter()
            .Message(1, Node("Identity", ["x"], [inner], name: "a"))
            .Message(1, Node("Neg", [inner], ["y"], name: "b"))
            .Message(11, ValueInfo("x", OnnxSchema.Float, "2"))
            .Message(12, ValueInfo("y", OnnxSchema.Float, "2"));
        var model = new ProtoWriter().Varint(1, 8).Message(7, graph).Message(8, new ProtoWriter().String(1, "").Varint(2, 17)).ToArray();
        GraphBytes(model).Length.Should().BeLessThan(128);

        var exposed = OnnxOutputExposer.Expose(model, [inner]);
        GraphBytes(exposed).Length.Should().BeGreaterThanOrEqualTo(128);
        OnnxOutputExposer.GraphOutputs(exposed).Should().Equal("y", inner);
        using var session = new InferenceSession(exposed);
        using var xv = OrtValue.CreateTensorValueFromMemory(new float[] { 1f, 2f }, [2]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["x"], [xv], [inner, "y"]);
        results[0].GetTensorDataAsSpan<float>().ToArray().Should().Equal(1f, 2f);
        results[1].GetTensorDataAsSpan<float>().ToArray().Should().Equal(-1f, -2f);
    }
}
