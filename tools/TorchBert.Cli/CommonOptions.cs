using System.CommandLine;
using TorchBert.Checkpoints;
using TorchBert.Pipelines;
using static TorchSharp.torch;

namespace TorchBert.Cli;

/// <summary>Single options shared by several commands (one definition each).</summary>
internal static class CommonOptions
{
    /// <summary>What <c>--dtype</c> accepts: the one parser's table (<see cref="DTypeNames.Accepted"/>), never a second list.</summary>
    public static string DTypeValues => DTypeNames.Accepted;

    /// <summary><c>--dtype</c>: the model's compute dtype (null = float32).</summary>
    public static Option<string?> DType() => new("--dtype")
    {
        Description = $"the model's compute dtype: {DTypeValues} (default float32; bfloat16 is 2–3× faster on CPUs with AVX512_BF16/AMX and on GPUs, slower elsewhere)",
    };

    /// <summary><c>--revision</c> beside <c>--model</c>: branch, tag or commit of a Hub id.</summary>
    public static Option<string?> Revision() => new("--revision") { Description = "branch, tag or commit of a Hub id (default: main)" };

    /// <summary><c>--device</c>: cpu, cuda or cuda:N.</summary>
    public static Option<string?> Device() => new("--device") { Description = "cpu | cuda | cuda:N (default: cuda when available, else cpu)" };

    /// <summary><c>--json</c>.</summary>
    public static Option<bool> Json(string description = "print JSON") => new("--json") { Description = description };

    /// <summary>The library's one dtype parser (<see cref="DTypeNames"/>: names and aliases, any case); null stays null.</summary>
    public static ScalarType? ParseDType(string? value) =>
        value is null ? null
        : DTypeNames.TryParse(value, out var type) ? type
        : throw new UsageException($"--dtype must be one of {DTypeValues}, got '{value}'");

    /// <summary><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>; null stays null (the library picks).</summary>
    public static Device? ParseDevice(string? value)
    {
        if (value is null) return null;
        var s = value.Trim().ToLowerInvariant();
        if (s == "cpu") return CPU;
        if (s == "cuda" || (s.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(s[5..], out var n) && n >= 0))
        {
            NativeRuntime.EnsureLoaded();
            if (!cuda.is_available()) throw new UsageException($"--device {value}: no CUDA device is available (use --device cpu)");
            return device(s);
        }
        throw new UsageException($"--device must be cpu, cuda or cuda:N, got '{value}'");
    }
}

/// <summary>
/// The one option set of every command that runs a model on texts (fill-mask, embed, similarity, classify, ner, qa,
/// zero-shot): --model, --revision, --dtype, --device, --truncation / --no-truncation, --max-length, --json,
/// --input / --output. Defined once here; a command adds it with <c>options.AddTo(cmd)</c>.
/// </summary>
internal sealed class ModelOptions
{
    public readonly Option<string?> Model;
    public readonly Option<string?> Revision = CommonOptions.Revision();
    public readonly Option<string?> DType = CommonOptions.DType();
    public readonly Option<string?> Device = CommonOptions.Device();
    public readonly Option<bool> Truncation = new("--truncation") { Description = "truncate inputs longer than the model (or --max-length)" };
    public readonly Option<bool> NoTruncation = new("--no-truncation") { Description = "fail on inputs longer than the model instead of truncating" };
    public readonly Option<int?> MaxLength = new("--max-length") { Description = "longest input in tokens (special tokens included), up to the model's limit; implies --truncation" };
    public readonly Option<bool> Json;
    public readonly Option<string?> Input = new("--input") { Description = "JSONL file: one input per line (instead of texts on the command line)" };
    public readonly Option<string?> Output = new("--output") { Description = "JSONL file to write, one result per line (default: stdout)" };

    /// <param name="model">what --model says (its default, or that it is required: <paramref name="required"/>).</param>
    public ModelOptions(string model, bool required = false, string json = "print HF's output structure as JSON")
    {
        Model = new Option<string?>("--model") { Description = model, Required = required };
        Json = CommonOptions.Json(json);
    }

    /// <summary>The default --model description: a folder, .onnx or Hub id, else the embedded model.</summary>
    public const string DefaultModel = "model folder (HF or converted), .onnx file or Hub id; default: the embedded all-MiniLM-L6-v2";

    public void AddTo(Command c)
    {
        foreach (var o in new Option[] { Model, Revision, DType, Device, Truncation, NoTruncation, MaxLength, Json, Input, Output })
            c.Options.Add(o);
    }

    /// <summary>The pipeline settings, checked (usage errors name the option).</summary>
    public PipelineOptions Pipeline(ParseResult p, bool verbose = false)
    {
        var max = p.GetValue(MaxLength);
        if (max is <= 0) throw new UsageException($"--max-length must be > 0, got {max}");
        if (p.GetValue(Truncation) && p.GetValue(NoTruncation)) throw new UsageException("--truncation and --no-truncation contradict each other");
        bool? truncation = p.GetValue(NoTruncation) ? false : p.GetValue(Truncation) || max is not null ? true : null;
        return new PipelineOptions
        {
            Truncation = truncation, MaxLength = max, Verbose = verbose, Logger = StderrLogger.Instance,
            Revision = p.GetValue(Revision), DType = CommonOptions.ParseDType(p.GetValue(DType)), Device = CommonOptions.ParseDevice(p.GetValue(Device)),
        };
    }

    /// <summary>--output checked before any work: its folder must exist.</summary>
    public void CheckOutput(ParseResult p)
    {
        if (p.GetValue(Output) is { } o) Cli.CheckOutputFile(o, "--output");
    }
}
