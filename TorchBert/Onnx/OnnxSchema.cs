using static TorchSharp.torch;

namespace TorchBert.Onnx;

/// <summary>The parts of onnx.proto this reader knows: field names (for errors) and tensor element types.</summary>
internal static class OnnxSchema
{
    private static readonly Dictionary<string, string[]> Fields = new()
    {
        // index = field number; "" = not read
        ["ModelProto"] = ["", "ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string",
            "graph", "opset_import"],
        ["OperatorSetIdProto"] = ["", "domain", "version"],
        ["GraphProto"] = ["", "node", "name", "", "", "initializer", "", "", "", "", "doc_string", "input", "output", "value_info"],
        ["NodeProto"] = ["", "input", "output", "name", "op_type", "attribute", "doc_string", "domain"],
        ["AttributeProto"] = ["", "name", "f", "i", "s", "t", "g", "floats", "ints", "strings", "tensors", "graphs", "",
            "doc_string", "", "", "", "", "", "", "type"],
        ["TensorProto"] = ["", "dims", "data_type", "segment", "float_data", "int32_data", "string_data", "int64_data",
            "name", "raw_data", "double_data", "uint64_data", "doc_string", "external_data", "data_location"],
        ["StringStringEntryProto"] = ["", "key", "value"],
        ["ValueInfoProto"] = ["", "name", "type"],
        ["TypeProto"] = ["", "tensor_type"],
        ["TypeProto.Tensor"] = ["", "elem_type", "shape"],
        ["TensorShapeProto"] = ["", "dim"],
        ["TensorShapeProto.Dimension"] = ["", "dim_value", "dim_param"],
        ["packed"] = [],
    };

    /// <summary>The field's name in onnx.proto, or its number when this reader does not know it.</summary>
    public static string FieldName(string message, int field) =>
        Fields.TryGetValue(message, out var names) && field < names.Length && names[field].Length > 0
            ? names[field] : $"#{field}";

    // TensorProto.DataType values.
    public const int Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9,
        Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16;

    /// <summary>TorchSharp dtype and element size of an ONNX data_type, or null when TorchSharp has none.</summary>
    public static (ScalarType Type, int Size)? Element(int dataType) => dataType switch
    {
        Float => (ScalarType.Float32, 4),
        UInt8 => (ScalarType.Byte, 1),
        Int8 => (ScalarType.Int8, 1),
        Int16 => (ScalarType.Int16, 2),
        Int32 => (ScalarType.Int32, 4),
        Int64 => (ScalarType.Int64, 8),
        Bool => (ScalarType.Bool, 1),
        Float16 => (ScalarType.Float16, 2),
        Double => (ScalarType.Float64, 8),
        BFloat16 => (ScalarType.BFloat16, 2),
        _ => null,
    };

    public static string TypeName(int dataType) => dataType switch
    {
        Float => "FLOAT", UInt8 => "UINT8", Int8 => "INT8", UInt16 => "UINT16", Int16 => "INT16", Int32 => "INT32",
        Int64 => "INT64", String => "STRING", Bool => "BOOL", Float16 => "FLOAT16", Double => "DOUBLE",
        UInt32 => "UINT32", UInt64 => "UINT64", BFloat16 => "BFLOAT16", _ => $"data_type {dataType}",
    };
}
