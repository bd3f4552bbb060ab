namespace TorchBert.Onnx;

/// <summary>Where a tensor's elements are stored.</summary>
internal enum OnnxDataField { None, Raw, FloatData, Int32Data, Int64Data, DoubleData, External }

/// <summary>
/// A TensorProto described without its data: the data stays in the (memory-mapped) file, at <see cref="Segments"/>.
/// </summary>
internal sealed class OnnxTensorInfo
{
    public string Name { get; set; } = "";
    public int DataType { get; set; }
    public long[] Dims { get; set; } = [];
    public OnnxDataField Field { get; set; }
    /// <summary>File offsets and lengths of the data field's occurrences (one for raw_data or a packed field).</summary>
    public List<(long Offset, int Length, bool Packed)> Segments { get; } = new();
    /// <summary>external_data entries (location, offset, length, ...), when <see cref="Field"/> is External.</summary>
    public Dictionary<string, string> External { get; } = new();
    /// <summary>Where the TensorProto was read ("ModelProto.graph.initializer[3]"), for error messages.</summary>
    public string Context { get; set; } = "";
    public long NumElements => Dims.Aggregate(1L, (a, b) => checked(a * b));
    public override string ToString() => $"{Name} {OnnxSchema.TypeName(DataType)} [{string.Join(", ", Dims)}] ({Field})";
}

/// <summary>An AttributeProto (the scalar, list and tensor kinds; graphs are skipped).</summary>
internal sealed class OnnxAttribute
{
    public string Name { get; set; } = "";
    public int Type { get; set; }
    public float F { get; set; }
    public long I { get; set; }
    public string? S { get; set; }
    public OnnxTensorInfo? T { get; set; }
    public List<float> Floats { get; } = new();
    public List<long> Ints { get; } = new();
    public override string ToString() => Name;
}

/// <summary>A NodeProto.</summary>
internal sealed class OnnxNode
{
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";
    public List<string> Inputs { get; } = new();
    public List<string> Outputs { get; } = new();
    public List<OnnxAttribute> Attributes { get; } = new();
    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);
    public override string ToString() =>
        $"{OpType} '{Name}' ({string.Join(", ", Inputs)}) -> ({string.Join(", ", Outputs)})";
}

/// <summary>A graph input or output: name, element type and dims (a number, a symbolic name, or "?").</summary>
internal sealed class OnnxValueInfo
{
    public string Name { get; set; } = "";
    public int ElemType { get; set; }
    public List<string> Dims { get; } = new();
    public override string ToString() => $"{Name} {OnnxSchema.TypeName(ElemType)} [{string.Join(", ", Dims)}]";
}

/// <summary>A GraphProto.</summary>
internal sealed class OnnxGraph
{
    public string Name { get; set; } = "";
    public List<OnnxNode> Nodes { get; } = new();
    public List<OnnxTensorInfo> Initializers { get; } = new();
    public List<OnnxValueInfo> Inputs { get; } = new();
    public List<OnnxValueInfo> Outputs { get; } = new();
}
