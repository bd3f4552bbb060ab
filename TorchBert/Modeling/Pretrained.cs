using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
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
    /// <summary>Branch, tag or commit when the path is a Hub id (null = <c>main</c>); see <see cref="Hub.ModelLocator"/>.</summary>
    public string? Revision { get; init; }
}

/// <summary>
/// HF <c>from_pretrained</c>'s weight loading: key mapping (legacy gamma/beta, <c>bert.</c> prefix either way, tied decoder),
/// a strict check that lists every missing and mis-shaped key before anything is copied, then a copy one tensor at a time
/// (straight from the file into the parameter where it can), and HF's initialisation for head keys the checkpoint lacks.
/// </summary>
public static partial class Pretrained
{
    private const string DecoderWeight = "cls.predictions.decoder.weight";
    private const string DecoderBias = "cls.predictions.decoder.bias";
    private const string HeadBias = "cls.predictions.bias";

    /// <summary>Device picked when none is given: cuda when available, else CPU.</summary>
    public static Device DefaultDevice() => cuda.is_available() ? CUDA : CPU;

    /// <summary>Fills <paramref name="model"/> from <paramref name="checkpoint"/>; throws <see cref="CheckpointException"/> listing every problem.</summary>
    public static LoadReport LoadWeights(BertPreTrainedModel model, ICheckpointReader checkpoint)
    {
        var report = new LoadReport { Source = checkpoint.Path, Format = checkpoint.Format };
        var expected = model.state_dict();
        var modelHasPrefix = expected.Keys.Any(k => k.StartsWith(BertPreTrainedModel.BaseModelPrefix + ".", StringComparison.Ordinal));
        var available = MapKeys(checkpoint, modelHasPrefix, report);

        if (!available.ContainsKey(HeadBias) && available.Remove(DecoderBias, out var decoderBias))
            available[HeadBias] = decoderBias;
        available.Remove(DecoderBias);
        if (available.Remove(DecoderWeight)) report.Tied.Add($"{DecoderWeight} (= embeddings.word_embeddings.weight)");

        var problems = new List<string>();
        var targets = new List<(string Key, Tensor Param, CheckpointTensor Source)>();
        foreach (var (key, param) in expected)
        {
            if (key is DecoderWeight or DecoderBias) { if (key == DecoderBias) report.Tied.Add($"{DecoderBias} (= {HeadBias})"); continue; }
            if (!available.Remove(key, out var src))
            {
                if (modelHasPrefix && key.StartsWith("cls.", StringComparison.Ordinal)) report.NewlyInitialized.Add(key);
                else problems.Add($"missing key '{key}' (model shape [{string.Join(", ", param.shape)}])");
                continue;
            }
            if (!src.Shape.SequenceEqual(param.shape))
                problems.Add($"key '{key}': checkpoint shape [{string.Join(", ", src.Shape)}], model shape [{string.Join(", ", param.shape)}]");
            else targets.Add((key, param, src));
        }
        report.Unexpected.AddRange(available.Keys.Select(k => available[k].Name));
        if (problems.Count > 0)
            throw new CheckpointException($"{checkpoint.Path}: cannot load into {model.GetType().Name}:{Environment.NewLine}  " +
                                          string.Join(Environment.NewLine + "  ", problems));

        using (no_grad())
        {
            foreach (var (_, param, src) in targets) src.LoadInto(param);
        }
        if (report.NewlyInitialized.Count > 0) model.InitNewlyInitialized(report.NewlyInitialized);
        report.Loaded = targets.Count;
        model.LoadReport = report;
        return report;
    }

    /// <summary>Checkpoint names → model names: LayerNorm gamma/beta → weight/bias; <c>bert.</c> added or stripped.</summary>
    private static Dictionary<string, CheckpointTensor> MapKeys(ICheckpointReader checkpoint, bool modelHasPrefix, LoadReport report)
    {
        const string prefix = BertPreTrainedModel.BaseModelPrefix + ".";
        var names = checkpoint.Tensors.Select(t => t.Name).ToList();
        var ckptHasPrefix = names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal));
        var map = new Dictionary<string, CheckpointTensor>();
        foreach (var t in checkpoint.Tensors)
        {
            var key = t.Name;
            if (key.EndsWith(".gamma", StringComparison.Ordinal)) key = key[..^".gamma".Length] + ".weight";
            else if (key.EndsWith(".beta", StringComparison.Ordinal)) key = key[..^".beta".Length] + ".bias";
            if (modelHasPrefix && !ckptHasPrefix && !key.StartsWith("cls.", StringComparison.Ordinal)) key = prefix + key;
            else if (!modelHasPrefix && ckptHasPrefix && key.StartsWith(prefix, StringComparison.Ordinal)) key = key[prefix.Length..];
            if (key != t.Name) report.Renamed.Add((t.Name, key));
            if (!map.TryAdd(key, t))
                throw new CheckpointException($"{checkpoint.Path}: keys '{map[key].Name}' and '{t.Name}' both map to '{key}'");
        }
        return map;
    }

    /// <summary>Whether the checkpoint carries the pooler (HF BertModel checkpoints do; MLM ones usually don't).</summary>
    internal static bool HasPooler(ICheckpointReader checkpoint) =>
        checkpoint.Tensors.Any(t => t.Name.EndsWith("pooler.dense.weight", StringComparison.Ordinal));
}
