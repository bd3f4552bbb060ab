using System.Text.Json;
using System.Text.Json.Serialization;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Loading;
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
        // Hub downloads (any --model that is a Hub id) draw a progress bar on stderr.
        using var hub = Hub.HubOptions.Use(Hub.HubOptions.FromEnvironment() with { Progress = new ProgressBar().Report });
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or TorchBertException
                                       or IOException or UnauthorizedAccessException or UsageException
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

    /// <summary>The Hub id fill-mask uses without --model (the embedded all-MiniLM-L6-v2 has no MLM head).</summary>
    public const string DefaultMlmModel = "bert-base-uncased";

    /// <summary>fill-mask needs an MLM head: --model, else the Hub's bert-base-uncased (downloaded once into the HF cache).</summary>
    public static string MlmModel(string? model) => model ?? DefaultMlmModel;

    public static void WriteJson<T>(T value) => Console.WriteLine(JsonSerializer.Serialize(value, Json));
}

/// <summary>A bad command line (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);
