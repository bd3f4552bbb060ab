using System.Buffers.Binary;
using TorchBert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Onnx;

/// <summary>Reads an <see cref="OnnxTensorInfo"/>'s elements from the mapped file (or its external data file).</summary>
internal static class OnnxTensorData
{
    /// <summary>A new, owned CPU tensor with the tensor's dims and dtype; raw data is copied straight into it.</summary>
    public static Tensor Load(OnnxModel model, OnnxTensorInfo t)
    {
        if (!BitConverter.IsLittleEndian) throw Error(model, t, "big-endian hosts are not supported");
        var (type, size) = OnnxSchema.Element(t.DataType)
                           ?? throw Error(model, t, $"{OnnxSchema.TypeName(t.DataType)} tensors are not supported");
        long bytes;
        try { bytes = checked(t.NumElements * size); }
        catch (OverflowException) { throw Error(model, t, "is too large"); }
        if (bytes > int.MaxValue) throw Error(model, t, $"{bytes} bytes is over the 2 GiB a tensor is read in");
        var tensor = torch.empty(t.Dims, type);
        try
        {
            var dest = bytes == 0 ? Span<byte>.Empty : tensor.bytes;
            switch (t.Field)
            {
                case OnnxDataField.Raw:
                    model.Span(t.Segments[0].Offset, t.Segments[0].Length).CopyTo(dest);
                    break;
                case OnnxDataField.FloatData or OnnxDataField.DoubleData:
                    Expect(model, t, t.Field == OnnxDataField.FloatData ? OnnxSchema.Float : OnnxSchema.Double);
                    var at = 0;
                    foreach (var (offset, length, _) in t.Segments)
                    {
                        model.Span(offset, length).CopyTo(dest[at..]);
                        at += length;
                    }
                    break;
                case OnnxDataField.Int32Data or OnnxDataField.Int64Data:
                    if (t.Field == OnnxDataField.Int64Data) Expect(model, t, OnnxSchema.Int64);
                    else if (t.DataType is OnnxSchema.Int64 or OnnxSchema.Float or OnnxSchema.Double)
                        throw Error(model, t, $"{OnnxSchema.TypeName(t.DataType)} data in int32_data");
                    Varints(model, t, dest, size);
                    break;
                case OnnxDataField.External:
                    OnnxExternalData.Read(model, t, dest);
                    break;
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>A small integer tensor's values (e.g. a Reshape shape).</summary>
    public static long[] Int64s(OnnxModel model, OnnxTensorInfo t)
    {
        using var x = Load(model, t);
        using var l = x.to_type(ScalarType.Int64);
        return l.data<long>().ToArray();
    }

    /// <summary>A small numeric tensor's values as doubles (e.g. an epsilon).</summary>
    public static double[] Doubles(OnnxModel model, OnnxTensorInfo t)
    {
        using var x = Load(model, t);
        using var d = x.to_type(ScalarType.Float64);
        return d.data<double>().ToArray();
    }

    private static void Varints(OnnxModel model, OnnxTensorInfo t, Span<byte> dest, int size)
    {
        var at = 0;
        Span<byte> value = stackalloc byte[8];
        foreach (var (offset, length, _) in t.Segments)
        {
            var r = new ProtoReader(model.Span(offset, length), offset, model.Path, t.Context, "TensorProto");
            while (!r.AtEnd)
            {
                if (at + size > dest.Length) throw Error(model, t, "has more values than its dims hold");
                BinaryPrimitives.WriteUInt64LittleEndian(value, r.Varint());
                value[..size].CopyTo(dest[at..]);
                at += size;
            }
        }
        if (at != dest.Length) throw Error(model, t, "has fewer values than its dims hold");
    }

    private static void Expect(OnnxModel model, OnnxTensorInfo t, int dataType)
    {
        if (t.DataType != dataType)
            throw Error(model, t, $"is {OnnxSchema.TypeName(t.DataType)} but its data is in the {t.Field} field");
    }

    public static CheckpointException Error(OnnxModel model, OnnxTensorInfo t, string problem) =>
        new($"{model.Path}: tensor '{t.Name}' ({t.Context}) {problem}");
}
