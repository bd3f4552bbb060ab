using TorchBert.Checkpoints;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// HF <c>save_pretrained</c> for models: the single write path of TorchBert (converter, trainer checkpoints, the final
/// fine-tuned folder). Writes <c>model.safetensors</c> (canonical HF keys; a tensor that aliases an earlier one — the tied
/// MLM decoder weight and bias — is omitted, as HF's safe serialization does) and <c>config.json</c> with
/// <c>architectures</c> = the class name and <c>torch_dtype</c>.
/// </summary>
public static class ModelSaving
{
    /// <summary>
    /// Writes the model into <paramref name="directory"/> (created if missing). Every file is written to a temporary
    /// name first and moved into place, so a failure never leaves a partial file; other files in the folder are kept.
    /// </summary>
    /// <param name="dtype">dtype of the written weights; null = the parameters' own.</param>
    /// <param name="metadata">extra safetensors <c>__metadata__</c> entries (<c>format: pt</c> is always written).</param>
    /// <returns>Bytes of model.safetensors.</returns>
    public static long SavePretrained(this BertPreTrainedModel model, string directory, ScalarType? dtype = null,
        IDictionary<string, string>? metadata = null, Action<int, int, string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var target = dtype ?? model.DType;
        if (!DTypeNames.Supported.Contains(target))
            throw new ArgumentException($"dtype {target} is not a floating-point parameter type (float32, float16, bfloat16, float64)", nameof(dtype));
        Directory.CreateDirectory(directory);

        var config = model.Config.Clone();
        config.Architectures = [model.GetType().Name];
        config.Extra["torch_dtype"] = DTypeNames.Name(target);
        AtomicFile.Write(Path.Combine(directory, "config.json"), tmp => config.Save(tmp));

        var weights = SavedTensors(model);
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        var path = Path.Combine(directory, "model.safetensors");
        var written = 0;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var tensors = weights.Select(kv =>
            {
                progress?.Invoke(++written, weights.Count, kv.Key);
                var t = kv.Value.detach();
                return new KeyValuePair<string, Tensor>(kv.Key, t.dtype == target ? t : t.to(target));
            });
            SafeTensorsWriter.Write(path, tensors, meta); // temp + move inside
        }
        return new FileInfo(path).Length;
    }

    /// <summary>
    /// The state dict as saved: every <c>state_dict()</c> key except the tied aliases the class declares
    /// (<see cref="LoadingPolicy.TiedWeights"/>, e.g. the MLM decoder weight and bias), as HF's safe serialization drops them.
    /// </summary>
    public static List<KeyValuePair<string, Tensor>> SavedTensors(BertPreTrainedModel model)
    {
        var tied = model.LoadingPolicy.TiedWeights;
        return model.state_dict().Where(kv => !tied.ContainsKey(kv.Key)).ToList();
    }
}
