using System.Text.Json;
using System.Text.Json.Serialization;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Conversion;
using TorchBert.Tokenization;

namespace TorchBert.Cli;

/// <summary>Shared plumbing: one-line errors with exit codes, model resolution, JSON output.</summary>
internal static class Cli
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Runs a command body; any failure becomes "torchbert: error: ..." on one line and exit code 1 (2 for usage).</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or CheckpointException or BertConfigException or TokenizerException
                                       or IOException or UnauthorizedAccessException or TorchBertNativeException or UsageException
                                       or FormatException or JsonException or InvalidDataException)
        {
            Console.Error.WriteLine($"torchbert: error: {OneLine(e.Message)}");
            return e is UsageException ? 2 : 1;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("TORCHBERT_DEBUG") != "1")
        {
            Console.Error.WriteLine($"torchbert: error: {e.GetType().Name}: {OneLine(e.Message)} (set TORCHBERT_DEBUG=1 for the trace)");
            return 1;
        }
    }

    private static string OneLine(string s)
    {
        var lines = s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join("; ", lines);
    }

    /// <summary>--model, or the embedded default (imported into weights/ on first use).</summary>
    public static string ModelOrDefault(string? model)
    {
        if (model is not null) return model;
        NativeRuntime.EnsureLoaded();
        return DefaultModel.EnsureInstalled(Console.Error);
    }

    /// <summary>fill-mask needs an MLM head: --model, else weights/bert-base-uncased, else a one-line how-to.</summary>
    public static string MlmModel(string? model)
    {
        if (model is not null) return model;
        var path = DefaultModel.PathOf("bert-base-uncased");
        if (File.Exists(Path.Combine(path, "config.json"))) return path;
        throw new UsageException(
            $"fill-mask needs a model with an MLM head and the embedded all-MiniLM-L6-v2 has none: download bert-base-uncased (config.json, model.safetensors, vocab.txt) and run 'torchbert convert DIR {path}', or pass --model DIR");
    }

    public static void WriteJson<T>(T value) => Console.WriteLine(JsonSerializer.Serialize(value, Json));
}

/// <summary>A bad command line (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);
