using TorchBert.Onnx;

namespace TorchBert.Tests.OrtParity;

/// <summary>
/// Rewrites an ONNX ModelProto so its main graph also lists given intermediate values as graph outputs, letting
/// ONNX Runtime return them. Every byte other than the graph's length prefix is kept as it was: ModelProto fields other
/// than <c>graph</c> (7) are copied verbatim (unknown ones included), and the graph's own bytes are copied verbatim with
/// the new <c>output</c> entries (GraphProto field 12) appended — protobuf repeated fields need not be contiguous, so
/// they parse as outputs after the existing ones.
/// </summary>
internal static class OnnxOutputExposer
{
    private const int GraphField = 7, NodeField = 1, NodeOutputField = 2, InitializerField = 5, TensorNameField = 8,
        GraphInputField = 11, GraphOutputField = 12, ValueInfoNameField = 1, ValueInfoTypeField = 2,
        TypeTensorField = 1, TensorElemTypeField = 1;

    /// <summary>
    /// A copy of <paramref name="model"/> whose graph outputs also include <paramref name="names"/> (in that order).
    /// Names already graph outputs are left alone (not listed twice).
    /// </summary>
    /// <param name="elemType">
    /// ONNX element type written as each new output's <c>type.tensor_type.elem_type</c> (1 = FLOAT); null writes a
    /// ValueInfoProto with only the name.
    /// </param>
    /// <exception cref="ArgumentException">A name is not produced by any node, nor a graph input or initializer.</exception>
    public static byte[] Expose(ReadOnlySpan<byte> model, IEnumerable<string> names, int? elemType = OnnxSchema.Float,
        string file = "<model bytes>")
    {
        var graphBytes = FindGraph(model, file, out var graphCount);
        if (graphCount != 1) throw new ArgumentException($"{file}: ModelProto has {graphCount} graph fields, expected 1");
        var (values, outputs) = Scan(graphBytes, file);

        var requested = names.Distinct().ToList();
        var unknown = requested.Where(n => !values.Contains(n)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"{file}: no node, graph input or initializer produces {string.Join(", ", unknown.Select(n => $"'{n}'"))}");

        var extra = new MemoryStream();
        foreach (var name in requested.Where(n => !outputs.Contains(n)))
        {
            var valueInfo = new MemoryStream();
            WriteString(valueInfo, ValueInfoNameField, name);
            if (elemType is { } t)
            {
                var tensorType = new MemoryStream();
                WriteTag(tensorType, TensorElemTypeField, 0);
                WriteVarint(tensorType, (ulong)t);
                var type = new MemoryStream();
                WriteBytes(type, TypeTensorField, tensorType.ToArray());
                WriteBytes(valueInfo, ValueInfoTypeField, type.ToArray());
            }
            WriteBytes(extra, GraphOutputField, valueInfo.ToArray());
        }

        var result = new MemoryStream(model.Length + (int)extra.Length + 16);
        var r = new ProtoReader(model, 0, file, "ModelProto", "ModelProto");
        while (true)
        {
            var start = (int)r.Offset;
            if (!r.Next()) break;
            if (r.Field == GraphField && r.Wire == WireType.Len)
            {
                var graph = r.Bytes(out _);
                WriteTag(result, GraphField, 2);
                WriteVarint(result, (ulong)(graph.Length + extra.Length));
                result.Write(graph);
                extra.WriteTo(result);
            }
            else
            {
                r.Skip();
                result.Write(model[start..(int)r.Offset]);
            }
        }
        return result.ToArray();
    }

    /// <summary>The names listed as the main graph's outputs, in order.</summary>
    public static List<string> GraphOutputs(ReadOnlySpan<byte> model, string file = "<model bytes>")
    {
        var g = new ProtoReader(FindGraph(model, file, out _), 0, file, "ModelProto.graph", "GraphProto");
        var list = new List<string>();
        while (g.Next())
        {
            if (g.Field != GraphOutputField) { g.Skip(); continue; }
            var v = g.Message("ValueInfoProto");
            while (v.Next())
            {
                if (v.Field == ValueInfoNameField) list.Add(v.String());
                else v.Skip();
            }
        }
        return list;
    }

    private static ReadOnlySpan<byte> FindGraph(ReadOnlySpan<byte> model, string file, out int count)
    {
        var r = new ProtoReader(model, 0, file, "ModelProto", "ModelProto");
        ReadOnlySpan<byte> graph = default;
        count = 0;
        while (r.Next())
        {
            if (r.Field == GraphField && r.Wire == WireType.Len) { graph = r.Bytes(out _); count++; }
            else r.Skip();
        }
        return graph;
    }

    /// <summary>Values defined in the graph (node outputs, graph inputs, initializers) and the current output names.</summary>
    private static (HashSet<string> Values, HashSet<string> Outputs) Scan(ReadOnlySpan<byte> graph, string file)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        var g = new ProtoReader(graph, 0, file, "ModelProto.graph", "GraphProto");
        while (g.Next())
        {
            var (messageType, nameField, into) = g.Field switch
            {
                NodeField => ("NodeProto", NodeOutputField, values),
                InitializerField => ("TensorProto", TensorNameField, values),
                GraphInputField => ("ValueInfoProto", ValueInfoNameField, values),
                GraphOutputField => ("ValueInfoProto", ValueInfoNameField, outputs),
                _ => ("", 0, values),
            };
            if (nameField == 0 || g.Wire != WireType.Len) { g.Skip(); continue; }
            var m = g.Message(messageType);
            while (m.Next())
            {
                if (m.Field == nameField && m.Wire == WireType.Len) into.Add(m.String());
                else m.Skip();
            }
        }
        return (values, outputs);
    }

    private static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)((field << 3) | wire));

    private static void WriteBytes(Stream s, int field, ReadOnlySpan<byte> bytes)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteString(Stream s, int field, string value) => WriteBytes(s, field, System.Text.Encoding.UTF8.GetBytes(value));

    private static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }
}
