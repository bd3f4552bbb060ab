using TorchBert.Configuration;
using TorchBert.Onnx;

namespace TorchBert.Checkpoints;

/// <summary>
/// A model on disk, opened: its config and its weights, from an HF folder (config.json + safetensors / sharded /
/// pytorch_model.bin), a TorchBert-converted folder (the same layout), or an ONNX export (a .onnx file, or a folder
/// holding model.onnx and no other weights) whose config is read from config.json when present, else inferred.
/// </summary>
public sealed class ModelSource : IDisposable
{
    private ModelSource(string path, string folder, BertConfig config, ICheckpointReader weights, IReadOnlyList<string> notes)
    {
        Path = path; Folder = folder; Config = config; Weights = weights; Notes = notes;
    }

    /// <summary>The folder (or file) the model was opened from.</summary>
    public string Path { get; }
    /// <summary>The folder holding the model (tokenizer files are looked up here).</summary>
    public string Folder { get; }
    /// <summary>The model's <c>config.json</c>.</summary>
    public BertConfig Config { get; }
    /// <summary>The opened weights; disposed with this source.</summary>
    public ICheckpointReader Weights { get; }
    /// <summary>How the config was obtained (e.g. heads read from the ONNX graph).</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Opens a local folder or .onnx file, or a Hub id / the embedded default model (<see cref="Hub.ModelLocator"/>).</summary>
    public static ModelSource Open(string path, int? numAttentionHeads = null, string? revision = null)
    {
        path = Hub.ModelLocator.Resolve(path, revision);
        if (File.Exists(path) && path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            return OpenOnnx(path, numAttentionHeads);
        if (!Directory.Exists(path))
            throw new CheckpointException($"{path}: no such model folder or .onnx file");

        var configPath = System.IO.Path.Combine(path, "config.json");
        var onnx = System.IO.Path.Combine(path, "model.onnx");
        if (!HasTorchWeights(path) && File.Exists(onnx)) return OpenOnnx(onnx, numAttentionHeads);
        if (!File.Exists(configPath))
            throw new CheckpointException($"{path}: config.json not found (an HF model folder has config.json next to its weights)");

        var config = BertConfig.FromFile(configPath);
        CheckArchitecture(config, configPath);
        var weights = CheckpointFiles.OpenFolder(path);
        return new ModelSource(path, path, config, weights, []);
    }

    private static bool HasTorchWeights(string dir) =>
        new[] { "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json" }
            .Any(f => File.Exists(System.IO.Path.Combine(dir, f)));

    private static ModelSource OpenOnnx(string onnxPath, int? heads)
    {
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(onnxPath))!;
        var import = OnnxBertImporter.Import(onnxPath, heads);
        var config = import.Config;
        var configPath = System.IO.Path.Combine(folder, "config.json");
        var notes = new List<string>(import.Notes) { $"num_attention_heads: {import.HeadsSource}" };
        if (File.Exists(configPath))
        {
            var declared = BertConfig.FromFile(configPath);
            CheckArchitecture(declared, configPath);
            config = declared;
            notes.Add("config: config.json beside the .onnx file");
        }
        return new ModelSource(onnxPath, folder, config, import.Weights, notes);
    }

    private static void CheckArchitecture(BertConfig config, string configPath)
    {
        // Which Bert* class runs it is BertAutoModel's choice (Modeling); here only "is it BERT at all".
        if (config.Architectures is { Count: > 0 } archs && !archs.Any(a => a.StartsWith("Bert", StringComparison.Ordinal)))
            throw new CheckpointException($"{configPath}: architecture {string.Join(", ", archs)} is not a BERT model (expected a Bert* class such as BertModel or BertForSequenceClassification)");
    }

    /// <inheritdoc/>
    public void Dispose() => Weights.Dispose();
}
