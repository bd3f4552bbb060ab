using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using Microsoft.Extensions.Logging;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>How <see cref="Pretrained"/> builds a model.</summary>
public sealed record PretrainedOptions
{
    /// <summary>Where the model runs; null = <c>cuda</c> when available, else CPU.</summary>
    public Device? Device { get; init; }
    /// <summary>Parameter dtype (float32, float16, bfloat16); null = float32, as HF's default torch_dtype.</summary>
    public ScalarType? DType { get; init; }
    /// <summary>eager or sdpa; null = sdpa (HF's default where available).</summary>
    public AttentionImplementation? AttnImplementation { get; init; }
    /// <summary>Heads for an ONNX export whose graph doesn't tell.</summary>
    public int? NumAttentionHeads { get; init; }
    /// <summary>
    /// Applied to the loaded config before the model is built, as HF's <c>from_pretrained(..., num_labels=7, id2label=...)</c>:
    /// e.g. <c>c =&gt; c.SetLabels(["neg", "pos"])</c> for a classifier started from a base checkpoint.
    /// </summary>
    public Action<BertConfig>? ConfigureConfig { get; init; }
    /// <summary>Branch, tag or commit when the path is a Hub id (null = <c>main</c>); resolved by the Loading layer (<c>TorchBert.Loading.ModelLocator</c>).</summary>
    public string? Revision { get; init; }
    /// <summary>Where the load report goes (HF's warnings for newly initialised and unused weights); null = silent.</summary>
    public ILogger? Logger { get; init; }
}

/// <summary>
/// HF <c>from_pretrained</c>'s weight loading: key mapping (legacy gamma/beta, <c>bert.</c> prefix either way, tied aliases),
/// a strict check that lists every missing, mis-shaped and unplaceable key before anything is copied, then a copy one
/// tensor at a time (straight from the file into the parameter where it can), and HF's initialisation for the keys the
/// checkpoint lacks and the model's <see cref="LoadingPolicy"/> allows to be new. The loader knows no head by name:
/// head keys are the keys outside the base-model prefix.
/// </summary>
public static partial class Pretrained
{
    private const string Prefix = BertPreTrainedModel.BaseModelPrefix + ".";

    /// <summary>Device picked when none is given: cuda when available, else CPU.</summary>
    public static Device DefaultDevice() => cuda.is_available() ? CUDA : CPU;

    /// <summary>Fills <paramref name="model"/> from <paramref name="checkpoint"/>; throws <see cref="CheckpointException"/> listing every problem.</summary>
    public static LoadReport LoadWeights(BertPreTrainedModel model, ICheckpointReader checkpoint)
    {
        var report = new LoadReport { Source = checkpoint.Path, Format = checkpoint.Format };
        var policy = model.LoadingPolicy;
        var expected = model.state_dict();
        var modelHasPrefix = expected.Keys.Any(k => k.StartsWith(Prefix, StringComparison.Ordinal));
        var (available, baseKeys) = MapKeys(checkpoint, expected, modelHasPrefix, report);
        var isBase = (string key) => modelHasPrefix ? key.StartsWith(Prefix, StringComparison.Ordinal) : baseKeys.Contains(key);

        foreach (var (alias, owner) in policy.TiedWeights)
        {
            if (!available.ContainsKey(owner) && available.Remove(alias, out var aliased)) available[owner] = aliased;
            available.Remove(alias);
            report.Tied.Add($"{alias} (= {owner})");
        }

        var missing = new List<string>();
        var misshaped = new List<string>();
        var targets = new List<(string Key, Tensor Param, CheckpointTensor Source)>();
        foreach (var (key, param) in expected)
        {
            if (policy.TiedWeights.ContainsKey(key)) continue;
            if (!available.Remove(key, out var src))
            {
                if (!isBase(key) || LoadingPolicy.Matches(policy.NewlyInitializedIfMissing, key)) report.NewlyInitialized.Add(key);
                else missing.Add($"missing key '{key}' (model shape [{string.Join(", ", param.shape)}])");
                continue;
            }
            if (!src.Shape.SequenceEqual(param.shape))
                misshaped.Add($"key '{key}': checkpoint shape [{string.Join(", ", src.Shape)}], model shape [{string.Join(", ", param.shape)}]" +
                             (isBase(key) ? "" : $" (the head's size comes from config.json: num_labels {model.Config.NumLabels}, vocab_size {model.Config.VocabSize})"));
            else targets.Add((key, param, src));
        }

        var unplaced = available.Keys.Where(k => isBase(k) && !LoadingPolicy.Matches(LoadingPolicy.Buffers, k)
                                                 && !LoadingPolicy.Matches(policy.KeysToIgnoreOnLoadUnexpected, k)).ToList();
        report.Unexpected.AddRange(available.Keys.Select(k => available[k].Name));
        if (missing.Count + misshaped.Count + unplaced.Count > 0)
            throw new CheckpointException(Mismatch(model, checkpoint, missing, misshaped, unplaced.Select(k => available[k].Name).ToList()));

        using (no_grad())
        {
            foreach (var (_, param, src) in targets) src.LoadInto(param);
        }
        if (report.NewlyInitialized.Count > 0) model.InitNewlyInitialized(report.NewlyInitialized);
        report.Loaded = targets.Count;
        model.LoadReport = report;
        return report;
    }

    /// <summary>
    /// A checkpoint that doesn't fit the model, summarised (a config that doesn't match its weights touches every key):
    /// per kind of problem the count and the first few keys, then the likely cause, read from the checkpoint's own
    /// shapes (e.g. "hidden_size 768 in config.json vs 32 in the checkpoint").
    /// </summary>
    private static string Mismatch(BertPreTrainedModel model, ICheckpointReader checkpoint, List<string> missing, List<string> misshaped, List<string> unplaced)
    {
        const int shown = 3;
        static string Few(List<string> items) => string.Join("; ", items.Take(shown)) + (items.Count > shown ? $"; ... ({items.Count - shown} more)" : "");
        var parts = new List<string>();
        if (misshaped.Count > 0) parts.Add($"{misshaped.Count} key(s) with another shape in the checkpoint: {Few(misshaped)}");
        if (missing.Count > 0) parts.Add($"{missing.Count} key(s) missing from the checkpoint: {Few(missing)}");
        if (unplaced.Count > 0) parts.Add(UnplacedMessage(model, unplaced));
        var cause = ConfigDifferences(model.Config, checkpoint);
        var text = $"{checkpoint.Path}: cannot load into {model.GetType().Name}:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", parts);
        return cause.Count > 0 ? text + $"{Environment.NewLine}  likely cause: config.json does not describe these weights ({string.Join(", ", cause)})" : text;
    }

    /// <summary>Sizes the checkpoint's tensors imply (vocab, hidden, positions, token types, intermediate, layers) that config.json contradicts.</summary>
    private static List<string> ConfigDifferences(BertConfig config, ICheckpointReader checkpoint)
    {
        long[]? Shape(string suffix) => checkpoint.Tensors.FirstOrDefault(t => t.Name.EndsWith(suffix, StringComparison.Ordinal))?.Shape.ToArray();
        var found = new List<(string Name, long Config, long Checkpoint)>();
        if (Shape("embeddings.word_embeddings.weight") is [var vocab, var hidden])
        {
            found.Add(("hidden_size", config.HiddenSize, hidden));
            found.Add(("vocab_size", config.VocabSize, vocab));
        }
        if (Shape("embeddings.position_embeddings.weight") is [var positions, _]) found.Add(("max_position_embeddings", config.MaxPositionEmbeddings, positions));
        if (Shape("embeddings.token_type_embeddings.weight") is [var types, _]) found.Add(("type_vocab_size", config.TypeVocabSize, types));
        if (Shape("encoder.layer.0.intermediate.dense.weight") is [var intermediate, _]) found.Add(("intermediate_size", config.IntermediateSize, intermediate));
        var layers = checkpoint.Tensors.Select(t => LayerIndex().Match(t.Name)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value) + 1).DefaultIfEmpty(0).Max();
        if (layers > 0) found.Add(("num_hidden_layers", config.NumHiddenLayers, layers));
        return found.Where(f => f.Config != f.Checkpoint).Select(f => $"{f.Name} {f.Config} in config.json vs {f.Checkpoint} in the checkpoint").ToList();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"(?:^|\.)encoder\.layer\.(\d+)\.")]
    private static partial System.Text.RegularExpressions.Regex LayerIndex();

    /// <summary>Base-model weights the class has no place for: ignoring them would give wrong outputs, so say which class fits.</summary>
    private static string UnplacedMessage(BertPreTrainedModel model, List<string> keys)
    {
        var shown = string.Join(", ", keys.Take(3)) + (keys.Count > 3 ? $", ... ({keys.Count} in all)" : "");
        var hint = keys.Any(k => k.Contains(".crossattention.", StringComparison.Ordinal))
            ? "they are cross-attention weights of a decoder (add_cross_attention): load it with BertLMHeadModel"
            : "the checkpoint's encoder differs from what config.json describes";
        return $"checkpoint weights that {model.GetType().Name} has no place for: {shown}; {hint}";
    }

    /// <summary>
    /// Checkpoint names → model names: LayerNorm gamma/beta → weight/bias; <c>bert.</c> added where the model expects it
    /// or stripped for a model without the prefix. Also returns the keys that were the checkpoint's base-model keys.
    /// </summary>
    private static (Dictionary<string, CheckpointTensor> Map, HashSet<string> BaseKeys) MapKeys(
        ICheckpointReader checkpoint, Dictionary<string, Tensor> expected, bool modelHasPrefix, LoadReport report)
    {
        var ckptHasPrefix = checkpoint.Tensors.Any(t => t.Name.StartsWith(Prefix, StringComparison.Ordinal));
        var map = new Dictionary<string, CheckpointTensor>();
        var baseKeys = new HashSet<string>();
        foreach (var t in checkpoint.Tensors)
        {
            var key = t.Name;
            if (key.EndsWith(".gamma", StringComparison.Ordinal)) key = key[..^".gamma".Length] + ".weight";
            else if (key.EndsWith(".beta", StringComparison.Ordinal)) key = key[..^".beta".Length] + ".bias";
            var isBase = !ckptHasPrefix || key.StartsWith(Prefix, StringComparison.Ordinal);
            if (modelHasPrefix && !ckptHasPrefix && !expected.ContainsKey(key) && IsBaseModelKey(key, expected)) key = Prefix + key;
            else if (!modelHasPrefix && ckptHasPrefix && key.StartsWith(Prefix, StringComparison.Ordinal)) key = key[Prefix.Length..];
            if (key != t.Name) report.Renamed.Add((t.Name, key));
            if (!map.TryAdd(key, t))
                throw new CheckpointException($"{checkpoint.Path}: keys '{map[key].Name}' and '{t.Name}' both map to '{key}'");
            if (isBase) baseKeys.Add(key);
        }
        return (map, baseKeys);
    }

    /// <summary>A key of a prefix-less (BertModel) checkpoint that belongs under the model's <c>bert.</c>: its first part names one of the base model's modules.</summary>
    private static bool IsBaseModelKey(string key, Dictionary<string, Tensor> expected)
    {
        var module = key.Split('.')[0] + ".";
        return expected.Keys.Any(k => k.StartsWith(Prefix, StringComparison.Ordinal) && k.AsSpan(Prefix.Length).StartsWith(module, StringComparison.Ordinal));
    }
}
