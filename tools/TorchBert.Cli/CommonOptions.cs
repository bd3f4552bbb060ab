using System.CommandLine;
using static TorchSharp.torch;

namespace TorchBert.Cli;

/// <summary>
/// Options shared by every command that runs a model. Add one to a command with <c>var dtype = CommonOptions.DType();</c>
/// and read it with <c>CommonOptions.ParseDType(p.GetValue(dtype))</c> into <c>PipelineOptions.DType</c> /
/// <c>PretrainedOptions.DType</c>; the library warns once on stderr where the CPU makes bf16/fp16 slower than float32.
/// </summary>
internal static class CommonOptions
{
    public const string DTypeValues = "bfloat16 | float16 | float32";

    /// <summary><c>--dtype</c>: the model's compute dtype (null = float32).</summary>
    public static Option<string?> DType() => new("--dtype")
    {
        Description = $"{DTypeValues}: the model's compute dtype (default float32; bfloat16 is 2–3× faster on CPUs with AVX512_BF16/AMX and on GPUs, slower elsewhere)",
    };

    /// <summary><c>bfloat16|bf16</c>, <c>float16|fp16|half</c>, <c>float32|fp32|float</c> (any case); null stays null.</summary>
    public static ScalarType? ParseDType(string? value) =>
        value is null ? null
        : Checkpoints.DTypeNames.TryParse(value, out var dtype) ? dtype   // the library's one dtype parser
        : throw new UsageException($"--dtype must be one of {DTypeValues}, got '{value}'");
}
