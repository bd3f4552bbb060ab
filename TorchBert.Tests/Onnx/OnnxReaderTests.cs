using TorchBert.Checkpoints;
using TorchBert.Onnx;
using static TorchBert.Tests.Onnx.OnnxBuilder;
using static TorchSharp.torch;

namespace TorchBert.Tests.Onnx;

public sealed class OnnxReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("torchbert-onnx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(byte[] bytes, string name = "m.onnx")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Small() => Model(
        [Node("Relu", ["x"], ["y"]), Node("Constant", [], ["k"], null, TensorAttr("value", Int64Tensor("", 3, -4)))],
        [FloatTensor("w", [2, 3], [1, 2, 3, 4, 5, 6]), Int64Tensor("shape", 0, -1, 12, 32)],
        [ValueInfo("x", 1, "batch", "3")], [ValueInfo("y", 1, "batch", "3")]);

    [Fact]
    public void Reads_graph_nodes_initializers_and_values()
    {
        using var m = OnnxModel.Open(Write(Small()));
        (m.IrVersion, m.ProducerName).Should().Be((8L, "torchbert-tests"));
        m.Opsets.Should().Equal(("", 17L));
        m.Graph.Nodes.Select(n => n.OpType).Should().Equal("Relu", "Constant");
        m.Graph.Inputs.Single().ToString().Should().Be("x FLOAT [batch, 3]");
        var w = m.Graph.Initializers[0];
        (w.Name, w.DataType, w.Field).Should().Be(("w", 1, OnnxDataField.Raw));
        w.Dims.Should().Equal(2, 3);
        using (var t = OnnxTensorData.Load(m, w))
        {
            t.shape.Should().Equal(2, 3);
            t[1, 2].item<float>().Should().Be(6);
        }
        OnnxTensorData.Int64s(m, m.Graph.Initializers[1]).Should().Equal(0, -1, 12, 32);
        new OnnxGraphIndex(m).Values("k").Should().Equal(3, -4);
    }

    [Fact]
    public void Every_truncation_is_a_CheckpointException_naming_the_file()
    {
        var bytes = Small();
        // Cut just before the trailing opset_import, the prefix is a whole (if opset-less) model.
        var whole = bytes.Length - new ProtoWriter().Message(8, new ProtoWriter().String(1, "").Varint(2, 17)).ToArray().Length;
        for (var n = 1; n < bytes.Length; n++)
        {
            if (n == whole) continue;
            var path = Write(bytes[..n]);
            var act = () => OnnxModel.Open(path).Dispose();
            act.Should().Throw<CheckpointException>($"a {n}-byte prefix is not a model").WithMessage($"{path}:*");
        }
    }

    [Fact]
    public void Random_corruption_never_escapes_as_another_exception()
    {
        var bytes = Small();
        var rng = new Random(1234);
        for (var trial = 0; trial < 2000; trial++)
        {
            var copy = (byte[])bytes.Clone();
            for (var k = rng.Next(1, 4); k > 0; k--) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
            var path = Write(copy);
            try
            {
                using var m = OnnxModel.Open(path);
                foreach (var t in m.Graph.Initializers) OnnxTensorData.Load(m, t).Dispose();
            }
            catch (CheckpointException e)
            {
                e.Message.Should().StartWith(path);
            }
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07 }, "ModelProto, field ModelProto.graph*runs past the end")]
    [InlineData(new byte[] { 0x08 }, "truncated varint")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "longer than 10 bytes")]
    [InlineData(new byte[] { 0x0F }, "invalid wire type")]
    [InlineData(new byte[] { 0x08, 0x07 }, "no graph")]
    public void Malformed_headers_are_named(byte[] bytes, string message)
    {
        var path = Write(bytes);
        var act = () => OnnxModel.Open(path);
        act.Should().Throw<CheckpointException>().WithMessage($"{path}:*{message}*");
    }

    [Fact]
    public void Raw_data_size_must_match_dims()
    {
        var bad = FloatTensor("w", [2, 4], [1, 2, 3]);
        var path = Write(Model([], [bad]));
        var act = () => OnnxModel.Open(path);
        act.Should().Throw<CheckpointException>()
            .WithMessage($"{path}:*ModelProto.graph.initializer[0]*'w' FLOAT [2, 4] needs 32 bytes of raw_data, has 12*");
        var huge = new ProtoWriter().Packed(1, [long.MaxValue / 2, 4]).Varint(2, 1).String(8, "h").Bytes(9, new byte[8]);
        path = Write(Model([], [huge]), "huge.onnx");
        act = () => OnnxModel.Open(path);
        act.Should().Throw<CheckpointException>().WithMessage("*'h'*");
    }

    [Fact]
    public void Typed_data_fields_load()
    {
        var floats = new ProtoWriter().Packed(1, [3]).Varint(2, 1).String(8, "f");
        foreach (var v in new[] { 1.5f, -2f, 3.25f }) floats.Float(4, v); // unpacked float_data
        var ints = new ProtoWriter().Packed(1, [2]).Varint(2, 3).String(8, "i8").Packed(5, [-3, 7]); // INT8 in int32_data
        var empty = new ProtoWriter().Packed(1, [0, 5]).Varint(2, 1).String(8, "e");
        using var m = OnnxModel.Open(Write(Model([], [floats, ints, empty])));
        using var f = OnnxTensorData.Load(m, m.Graph.Initializers[0]);
        f.data<float>().ToArray().Should().Equal(1.5f, -2f, 3.25f);
        using var i = OnnxTensorData.Load(m, m.Graph.Initializers[1]);
        i.dtype.Should().Be(ScalarType.Int8);
        i.data<sbyte>().ToArray().Should().Equal(-3, 7);
        using var e = OnnxTensorData.Load(m, m.Graph.Initializers[2]);
        e.shape.Should().Equal(0, 5);
    }

    [Fact]
    public void External_data_is_read_relative_to_the_model_and_may_not_escape()
    {
        File.WriteAllBytes(Path.Combine(_dir, "weights.bin"), [0, 0, 0, 0, .. BitConverter.GetBytes(2.5f), .. BitConverter.GetBytes(-1f)]);
        ProtoWriter External(string location, long offset) => new ProtoWriter().Packed(1, [2]).Varint(2, 1).String(8, location)
            .Message(13, new ProtoWriter().String(1, "location").String(2, location))
            .Message(13, new ProtoWriter().String(1, "offset").String(2, offset.ToString()))
            .Message(13, new ProtoWriter().String(1, "length").String(2, "8"))
            .Varint(14, 1);
        using var m = OnnxModel.Open(Write(Model([], [External("weights.bin", 4), External("../weights.bin", 4), External("weights.bin", 8)])));
        using (var t = OnnxTensorData.Load(m, m.Graph.Initializers[0]))
            t.data<float>().ToArray().Should().Equal(2.5f, -1f);
        var escape = () => OnnxTensorData.Load(m, m.Graph.Initializers[1]);
        escape.Should().Throw<CheckpointException>().WithMessage("*outside the model's directory*");
        var past = () => OnnxTensorData.Load(m, m.Graph.Initializers[2]);
        past.Should().Throw<CheckpointException>().WithMessage("*runs past the end*");
    }

    [Fact]
    public void Missing_empty_and_disposed_files()
    {
        var missing = () => OnnxModel.Open(Path.Combine(_dir, "none.onnx"));
        missing.Should().Throw<CheckpointException>().WithMessage("*not found*");
        var empty = () => OnnxModel.Open(Write([], "empty.onnx"));
        empty.Should().Throw<CheckpointException>().WithMessage("*empty*");
        var m = OnnxModel.Open(Write(Small()));
        m.Dispose();
        var load = () => OnnxTensorData.Load(m, m.Graph.Initializers[0]);
        load.Should().Throw<ObjectDisposedException>();
    }
}
