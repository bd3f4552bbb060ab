using TorchBert.Configuration;

namespace TorchBert.Checkpoints;

/// <summary>
/// A model on disk, opened: its config and its weights. Opening a path or Hub id (HF folder, TorchBert-converted folder,
/// ONNX export, the embedded default model) is the Loading layer's job (<c>TorchBert.Loading.ModelLocator.Open</c>);
/// this is what it hands to the model classes. Disposing it closes the weights.
/// </summary>
public sealed class ModelSource : IDisposable
{
    /// <summary>An opened model: <paramref name="weights"/> is owned (and disposed) by the new instance.</summary>
    /// <param name="path">what was opened (a folder or a .onnx file).</param>
    /// <param name="folder">the folder holding the model (tokenizer files are looked up here).</param>
    /// <param name="config">the model's config.</param>
    /// <param name="weights">the checkpoint reader.</param>
    /// <param name="notes">how the config was obtained (e.g. heads read from the ONNX graph).</param>
    public ModelSource(string path, string folder, BertConfig config, ICheckpointReader weights, IReadOnlyList<string>? notes = null)
    {
        Path = path; Folder = folder; Config = config; Weights = weights; Notes = notes ?? [];
    }

    /// <summary>What was opened: a model folder or a .onnx file.</summary>
    public string Path { get; }
    /// <summary>The folder holding the model (tokenizer files are looked up here).</summary>
    public string Folder { get; }
    /// <summary>The model's config (config.json, or inferred from an ONNX graph).</summary>
    public BertConfig Config { get; }
    /// <summary>The checkpoint's tensors.</summary>
    public ICheckpointReader Weights { get; }
    /// <summary>How the config was obtained (e.g. heads read from the ONNX graph).</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>
    /// Opens an HF model folder (config.json + safetensors / sharded / pytorch_model.bin): the config is read and checked
    /// to be a BERT one, the weights are opened.
    /// </summary>
    public static ModelSource OpenFolder(string path)
    {
        var configPath = System.IO.Path.Combine(path, "config.json");
        if (!File.Exists(configPath))
            throw new CheckpointException($"{path}: config.json not found (an HF model folder has config.json next to its weights)");
        var config = BertConfig.FromFile(configPath);
        CheckArchitecture(config, configPath);
        var weights = CheckpointFiles.OpenFolder(path);
        return new ModelSource(path, path, config, weights);
    }

    /// <summary>Refuses a config.json whose <c>architectures</c> names no BERT class (which Bert* class runs it is Modeling's choice).</summary>
    public static void CheckArchitecture(BertConfig config, string configPath)
    {
        if (config.Architectures is { Count: > 0 } archs && !archs.Any(a => a.StartsWith("Bert", StringComparison.Ordinal)))
            throw new CheckpointException($"{configPath}: architecture {string.Join(", ", archs)} is not a BERT model (expected a Bert* class such as BertModel or BertForSequenceClassification)");
    }

    /// <summary>Closes the weights.</summary>
    public void Dispose() => Weights.Dispose();
}
