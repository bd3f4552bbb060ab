namespace TorchBert.Onnx;

/// <summary>
/// Hand-written decoder of the onnx.proto messages TorchBert needs. Tensor data is not copied: only its file offsets
/// are kept (see <see cref="OnnxTensorInfo.Segments"/>); sizes are checked against dims and data_type here.
/// </summary>
internal static class OnnxParser
{
    public static void ParseModel(ref ProtoReader r, OnnxModel model)
    {
        var sawGraph = false;
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: model.IrVersion = r.Int64(); break;
                case 2: model.ProducerName = r.String(); break;
                case 3: model.ProducerVersion = r.String(); break;
                case 7:
                    if (sawGraph) throw r.Error("more than one graph");
                    var g = r.Message("GraphProto");
                    ParseGraph(ref g, model.Graph);
                    sawGraph = true;
                    break;
                case 8:
                    var o = r.Message("OperatorSetIdProto", $"[{model.Opsets.Count}]");
                    string domain = "";
                    long version = 0;
                    while (o.Next())
                    {
                        if (o.Field == 1) domain = o.String();
                        else if (o.Field == 2) version = o.Int64();
                        else o.Skip();
                    }
                    model.Opsets.Add((domain, version));
                    break;
                default: r.Skip(); break;
            }
        }
        if (!sawGraph) throw r.Error("ModelProto has no graph (is this an ONNX model?)");
    }

    private static void ParseGraph(ref ProtoReader r, OnnxGraph graph)
    {
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1:
                    var n = r.Message("NodeProto", $"[{graph.Nodes.Count}]");
                    graph.Nodes.Add(ParseNode(ref n));
                    break;
                case 2: graph.Name = r.String(); break;
                case 5:
                    var t = r.Message("TensorProto", $"[{graph.Initializers.Count}]");
                    graph.Initializers.Add(ParseTensor(ref t));
                    break;
                case 11 or 12:
                    var list = r.Field == 11 ? graph.Inputs : graph.Outputs;
                    var v = r.Message("ValueInfoProto", $"[{list.Count}]");
                    list.Add(ParseValueInfo(ref v));
                    break;
                default: r.Skip(); break;
            }
        }
    }

    private static OnnxNode ParseNode(ref ProtoReader r)
    {
        var node = new OnnxNode();
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: node.Inputs.Add(r.String()); break;
                case 2: node.Outputs.Add(r.String()); break;
                case 3: node.Name = r.String(); break;
                case 4: node.OpType = r.String(); break;
                case 5:
                    var a = r.Message("AttributeProto", $"[{node.Attributes.Count}]");
                    node.Attributes.Add(ParseAttribute(ref a));
                    break;
                case 7: node.Domain = r.String(); break;
                default: r.Skip(); break;
            }
        }
        return node;
    }

    private static OnnxAttribute ParseAttribute(ref ProtoReader r)
    {
        var a = new OnnxAttribute();
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: a.Name = r.String(); break;
                case 2: a.F = r.Float(); break;
                case 3: a.I = r.Int64(); break;
                case 4: a.S = r.String(); break;
                case 5:
                    var t = r.Message("TensorProto");
                    a.T = ParseTensor(ref t);
                    break;
                case 7: r.Floats(a.Floats); break;
                case 8: r.Int64s(a.Ints); break;
                case 20: a.Type = r.Int32(); break;
                default: r.Skip(); break;
            }
        }
        return a;
    }

    private static OnnxValueInfo ParseValueInfo(ref ProtoReader r)
    {
        var v = new OnnxValueInfo();
        while (r.Next())
        {
            if (r.Field == 1) { v.Name = r.String(); continue; }
            if (r.Field != 2) { r.Skip(); continue; }
            var type = r.Message("TypeProto");
            while (type.Next())
            {
                if (type.Field != 1) { type.Skip(); continue; }
                var tensor = type.Message("TypeProto.Tensor");
                while (tensor.Next())
                {
                    if (tensor.Field == 1) { v.ElemType = tensor.Int32(); continue; }
                    if (tensor.Field != 2) { tensor.Skip(); continue; }
                    var shape = tensor.Message("TensorShapeProto");
                    while (shape.Next())
                    {
                        if (shape.Field != 1) { shape.Skip(); continue; }
                        var dim = shape.Message("TensorShapeProto.Dimension", $"[{v.Dims.Count}]");
                        var text = "?";
                        while (dim.Next())
                        {
                            if (dim.Field == 1) text = dim.Int64().ToString();
                            else if (dim.Field == 2) text = dim.String();
                            else dim.Skip();
                        }
                        v.Dims.Add(text);
                    }
                }
            }
        }
        return v;
    }

    private static OnnxTensorInfo ParseTensor(ref ProtoReader r)
    {
        var t = new OnnxTensorInfo { Context = r.Context };
        var dims = new List<long>();
        var location = 0L;
        long count = 0; // elements held by the typed data fields
        while (r.Next())
        {
            switch (r.Field)
            {
                case 1: r.Int64s(dims); break;
                case 2: t.DataType = r.Int32(); break;
                case 8: t.Name = r.String(); break;
                case 9:
                    var raw = r.Bytes(out var offset);
                    SetField(ref r, t, OnnxDataField.Raw);
                    t.Segments.Add((offset, raw.Length, true));
                    break;
                case 4 or 5 or 7 or 10:
                    var (field, size) = r.Field switch
                    {
                        4 => (OnnxDataField.FloatData, 4),
                        5 => (OnnxDataField.Int32Data, 0),
                        7 => (OnnxDataField.Int64Data, 0),
                        _ => (OnnxDataField.DoubleData, 8),
                    };
                    SetField(ref r, t, field);
                    count += ReadSegment(ref r, t, size);
                    break;
                case 13:
                    var e = r.Message("StringStringEntryProto", $"[{t.External.Count}]");
                    string key = "", value = "";
                    while (e.Next())
                    {
                        if (e.Field == 1) key = e.String();
                        else if (e.Field == 2) value = e.String();
                        else e.Skip();
                    }
                    t.External[key] = value;
                    break;
                case 14: location = r.Int64(); break;
                default: r.Skip(); break;
            }
        }
        t.Dims = dims.ToArray();
        if (location == 1 || t.External.Count > 0)
        {
            if (t.Field != OnnxDataField.None) throw r.Error($"tensor '{t.Name}' has both external and embedded data");
            t.Field = OnnxDataField.External;
        }
        Validate(ref r, t, count);
        return t;
    }

    private static void SetField(ref ProtoReader r, OnnxTensorInfo t, OnnxDataField field)
    {
        if (t.Field != OnnxDataField.None && t.Field != field)
            throw r.Error($"tensor '{t.Name}' has data in both {t.Field} and {field}");
        if (field == OnnxDataField.Raw && t.Segments.Count > 0) throw r.Error($"tensor '{t.Name}' has raw_data twice");
        t.Field = field;
    }

    /// <summary>Records one occurrence of a typed data field; returns how many elements it holds.</summary>
    private static long ReadSegment(ref ProtoReader r, OnnxTensorInfo t, int fixedSize)
    {
        if (r.Wire == WireType.Len)
        {
            var data = r.Bytes(out var offset);
            t.Segments.Add((offset, data.Length, true));
            if (fixedSize > 0)
                return data.Length % fixedSize == 0 ? data.Length / fixedSize
                    : throw r.Error($"packed data of {data.Length} bytes is not a multiple of {fixedSize}");
            if (data.Length > 0 && data[^1] >= 0x80) throw r.Error("packed varints end mid-value");
            var ends = 0;
            foreach (var b in data) if (b < 0x80) ends++;
            return ends;
        }
        var start = r.Offset;
        switch (fixedSize)
        {
            case 4: r.Float(); break;
            case 8: r.Double(); break;
            default: r.Int64(); break;
        }
        t.Segments.Add((start, checked((int)(r.Offset - start)), false));
        return 1;
    }

    private static void Validate(ref ProtoReader r, OnnxTensorInfo t, long count)
    {
        long numel;
        try
        {
            if (t.Dims.Any(d => d < 0)) throw r.Error($"tensor '{t.Name}' has a negative dim [{string.Join(", ", t.Dims)}]");
            numel = t.NumElements;
        }
        catch (OverflowException)
        {
            throw r.Error($"tensor '{t.Name}' dims [{string.Join(", ", t.Dims)}] overflow");
        }
        var element = OnnxSchema.Element(t.DataType);
        switch (t.Field)
        {
            case OnnxDataField.Raw when element is { } el:
                var bytes = t.Segments[0].Length;
                if (numel > bytes || numel * el.Size != bytes)
                    throw r.Error($"tensor '{t.Name}' {OnnxSchema.TypeName(t.DataType)} [{string.Join(", ", t.Dims)}] " +
                                  $"needs {(numel > bytes ? "more than " + bytes : numel * el.Size)} bytes of raw_data, has {bytes}");
                break;
            case OnnxDataField.FloatData or OnnxDataField.Int32Data or OnnxDataField.Int64Data or OnnxDataField.DoubleData:
                if (count != numel)
                    throw r.Error($"tensor '{t.Name}' [{string.Join(", ", t.Dims)}] has {numel} elements but {count} values");
                break;
            case OnnxDataField.None when numel > 0 && t.DataType != OnnxSchema.String:
                throw r.Error($"tensor '{t.Name}' [{string.Join(", ", t.Dims)}] has no data");
        }
    }
}
