using System.Text;

namespace TorchBert.Tests.Onnx;

/// <summary>Minimal protobuf writer for hand-built ONNX test models.</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _s = new();

    public byte[] ToArray() => _s.ToArray();

    public ProtoWriter Varint(int field, long value) { Tag(field, 0); Raw((ulong)value); return this; }
    public ProtoWriter Float(int field, float value) { Tag(field, 5); _s.Write(BitConverter.GetBytes(value)); return this; }
    public ProtoWriter Bytes(int field, byte[] value) { Tag(field, 2); Raw((ulong)value.Length); _s.Write(value); return this; }
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));
    public ProtoWriter Message(int field, ProtoWriter inner) => Bytes(field, inner.ToArray());

    public ProtoWriter Packed(int field, IEnumerable<long> values)
    {
        var inner = new ProtoWriter();
        foreach (var v in values) inner.Raw((ulong)v);
        return Bytes(field, inner.ToArray());
    }

    private void Tag(int field, int wire) => Raw((ulong)((field << 3) | wire));

    private void Raw(ulong v)
    {
        while (v >= 0x80) { _s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        _s.WriteByte((byte)v);
    }
}

/// <summary>Builders for the ONNX messages the tests need (field numbers from onnx.proto).</summary>
internal static class OnnxBuilder
{
    public static ProtoWriter FloatTensor(string name, long[] dims, float[] values)
    {
        var raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        return new ProtoWriter().Packed(1, dims).Varint(2, 1).String(8, name).Bytes(9, raw);
    }

    public static ProtoWriter Int64Tensor(string name, params long[] values) =>
        new ProtoWriter().Packed(1, [values.Length]).Varint(2, 7).String(8, name).Packed(7, values);

    public static ProtoWriter Node(string op, string[] inputs, string[] outputs, string? name = null, params ProtoWriter[] attributes)
    {
        var n = new ProtoWriter();
        foreach (var i in inputs) n.String(1, i);
        foreach (var o in outputs) n.String(2, o);
        n.String(3, name ?? op + "_" + outputs[0]).String(4, op);
        foreach (var a in attributes) n.Message(5, a);
        return n;
    }

    public static ProtoWriter IntAttr(string name, long value) => new ProtoWriter().String(1, name).Varint(3, value).Varint(20, 2);
    public static ProtoWriter FloatAttr(string name, float value) => new ProtoWriter().String(1, name).Float(2, value).Varint(20, 1);
    public static ProtoWriter IntsAttr(string name, params long[] v) => new ProtoWriter().String(1, name).Packed(8, v).Varint(20, 7);
    public static ProtoWriter StringAttr(string name, string v) => new ProtoWriter().String(1, name).String(4, v).Varint(20, 3);
    public static ProtoWriter TensorAttr(string name, ProtoWriter t) => new ProtoWriter().String(1, name).Message(5, t).Varint(20, 4);

    public static ProtoWriter ValueInfo(string name, int elemType, params string[] dims)
    {
        var shape = new ProtoWriter();
        foreach (var d in dims)
            shape.Message(1, long.TryParse(d, out var v) ? new ProtoWriter().Varint(1, v) : new ProtoWriter().String(2, d));
        var tensor = new ProtoWriter().Varint(1, elemType).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensor));
    }

    public static byte[] Model(IEnumerable<ProtoWriter> nodes, IEnumerable<ProtoWriter> initializers,
        IEnumerable<ProtoWriter>? inputs = null, IEnumerable<ProtoWriter>? outputs = null)
    {
        var graph = new ProtoWriter();
        foreach (var n in nodes) graph.Message(1, n);
        graph.String(2, "test");
        foreach (var t in initializers) graph.Message(5, t);
        foreach (var i in inputs ?? []) graph.Message(11, i);
        foreach (var o in outputs ?? []) graph.Message(12, o);
        return new ProtoWriter().Varint(1, 8).String(2, "torchbert-tests").Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Varint(2, 17)).ToArray();
    }
}
