using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>Maps the dtype names of the checkpoint formats (safetensors' "F32", torch's "FloatStorage") to torch dtypes.</summary>
internal static class CheckpointDTypes
{
    private static readonly (string SafeTensors, string TorchStorage, ScalarType Type, int Size)[] Table =
    [
        ("F64", "DoubleStorage", ScalarType.Float64, 8),
        ("F32", "FloatStorage", ScalarType.Float32, 4),
        ("F16", "HalfStorage", ScalarType.Float16, 2),
        ("BF16", "BFloat16Storage", ScalarType.BFloat16, 2),
        ("I64", "LongStorage", ScalarType.Int64, 8),
        ("I32", "IntStorage", ScalarType.Int32, 4),
        ("I16", "ShortStorage", ScalarType.Int16, 2),
        ("I8", "CharStorage", ScalarType.Int8, 1),
        ("U8", "ByteStorage", ScalarType.Byte, 1),
        ("BOOL", "BoolStorage", ScalarType.Bool, 1),
    ];

    /// <summary>The safetensors dtype names this port reads and writes.</summary>
    public static IEnumerable<string> SafeTensorsNames => Table.Select(e => e.SafeTensors);

    public static bool TryFromSafeTensors(string name, out ScalarType type) => TryFind(e => e.SafeTensors == name, out type);

    /// <summary>dtype of a torch storage class name such as "FloatStorage" (the part after "torch.").</summary>
    public static bool TryFromTorchStorage(string name, out ScalarType type) => TryFind(e => e.TorchStorage == name, out type);

    public static bool IsSupported(ScalarType type) => Table.Any(e => e.Type == type);

    public static string ToSafeTensors(ScalarType type)
    {
        foreach (var e in Table)
            if (e.Type == type) return e.SafeTensors;
        throw new ArgumentException($"dtype {type} has no safetensors name (supported: {string.Join(", ", SafeTensorsNames)})");
    }

    /// <summary>Bytes per element of a supported dtype.</summary>
    public static int ElementSize(ScalarType type)
    {
        foreach (var e in Table)
            if (e.Type == type) return e.Size;
        throw new ArgumentException($"dtype {type} is not supported in checkpoints");
    }

    private static bool TryFind(Func<(string SafeTensors, string TorchStorage, ScalarType Type, int Size), bool> match, out ScalarType type)
    {
        foreach (var e in Table)
        {
            if (match(e)) { type = e.Type; return true; }
        }
        type = default;
        return false;
    }
}
