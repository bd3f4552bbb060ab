using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>
/// The one place for parameter dtype names: HF's <c>torch_dtype</c> names (<c>float32</c>, <c>float16</c>,
/// <c>bfloat16</c>, <c>float64</c>) written into config.json and shown to users, and the one parser (with its aliases)
/// that the library and the CLI use to read them.
/// </summary>
public static class DTypeNames
{
    private static readonly (ScalarType Type, string Name, string[] Aliases)[] Table =
    [
        (ScalarType.Float32, "float32", ["fp32", "float"]),
        (ScalarType.Float16, "float16", ["fp16", "half"]),
        (ScalarType.BFloat16, "bfloat16", ["bf16"]),
        (ScalarType.Float64, "float64", ["fp64", "double"]),
    ];

    /// <summary>The parameter dtypes a model can be loaded or saved in.</summary>
    public static IReadOnlyList<ScalarType> Supported { get; } = Table.Select(e => e.Type).ToArray();

    /// <summary>HF's <c>torch_dtype</c> name of <paramref name="type"/> (e.g. <c>bfloat16</c>).</summary>
    /// <exception cref="ArgumentException">not a floating-point parameter dtype.</exception>
    public static string Name(ScalarType type)
    {
        foreach (var e in Table)
            if (e.Type == type) return e.Name;
        throw new ArgumentException($"dtype {type} is not a floating-point parameter type ({string.Join(", ", Table.Select(e => e.Name))})", nameof(type));
    }

    /// <summary>Reads a dtype name or alias (<c>bfloat16|bf16</c>, <c>float16|fp16|half</c>, <c>float32|fp32|float</c>, <c>float64|fp64|double</c>; any case, <c>torch.</c> prefix allowed).</summary>
    public static bool TryParse(string? value, out ScalarType type)
    {
        var v = value?.Trim().ToLowerInvariant();
        if (v is not null && v.StartsWith("torch.", StringComparison.Ordinal)) v = v["torch.".Length..];
        foreach (var e in Table)
        {
            if (v == e.Name || e.Aliases.Contains(v)) { type = e.Type; return true; }
        }
        type = default;
        return false;
    }

    /// <summary>The names and aliases <see cref="TryParse"/> accepts, for messages and help (e.g. <c>float32|fp32|float, ...</c>).</summary>
    public static string Accepted => string.Join(", ", Table.Select(e => string.Join("|", [e.Name, .. e.Aliases])));
}
