using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

public static partial class Pretrained
{
    /// <summary>
    /// HF <c>from_pretrained</c> for a local folder (HF layout or a TorchBert-converted one):
    /// reads config.json (then <see cref="PretrainedOptions.ConfigureConfig"/>), opens the weights, builds the model through
    /// <paramref name="create"/> (config, the checkpoint's tensor names) with
    /// uninitialised parameters already on the device and dtype, reads every tensor straight into its parameter, and returns
    /// the model in eval mode. Each weight is allocated once; nothing is initialised twice.
    /// </summary>
    public static T Load<T>(string path, PretrainedOptions? options, Func<BertConfig, IReadOnlySet<string>, T> create) where T : BertPreTrainedModel
    {
        options ??= new PretrainedOptions();
        var dtype = options.DType ?? ScalarType.Float32;
        if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64))
            throw new ArgumentException($"dtype {dtype} is not a floating-point parameter type (float32, float16, bfloat16, float64)", nameof(options));
        NativeRuntime.EnsureLoaded();
        using var source = ModelSource.Open(path, options.NumAttentionHeads, options.Revision);
        var config = source.Config;
        if (options.AttnImplementation is { } attn) config.AttnImplementation = attn;
        if (options.ConfigureConfig is { } configure)
        {
            configure(config);
            config.Validate($"{path} (after PretrainedOptions.ConfigureConfig)");
        }
        var tensorNames = source.Weights.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);

        var device = options.Device ?? DefaultDevice();
        T model;
        using (ModuleFactory.Uninitialized(device, dtype))
            model = create(config, tensorNames);

        try
        {
            CheckDecoderConfig(model, path);
            LoadWeights(model, source.Weights);
            // The parameters are already there; this only records the device in TorchSharp's modules (their .to(device) checks it).
            model.to(device, dtype);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// "Nothing loads silently wrong": a decoder config (<c>is_decoder</c>, <c>add_cross_attention</c>) into a class that
    /// would run it as a bidirectional encoder is refused, naming the class to use. (Cross-attention weights under a config
    /// without add_cross_attention are refused by <see cref="LoadWeights"/>, which names the keys.)
    /// </summary>
    internal static void CheckDecoderConfig(BertPreTrainedModel model, string path)
    {
        if (model.HonorsDecoderConfig) return;
        var flags = new[] { ("is_decoder", model.Config.IsDecoder), ("add_cross_attention", model.Config.AddCrossAttention) }
            .Where(f => f.Item2).Select(f => f.Item1).ToList();
        if (flags.Count > 0)
            throw new CheckpointException($"{path}: config.json sets {string.Join(" and ", flags.Select(f => f + ": true"))} (a causal decoder) " +
                                          $"but {model.GetType().Name} runs bidirectional attention; load it with BertLMHeadModel " +
                                          "(BertAutoModel.FromPretrained picks the class from architectures)");
    }
}

public static partial class Pretrained
{
    /// <summary>HF <c>AutoModel</c>-style: the class named by config.json's <c>architectures</c> (see <see cref="BertAutoModel"/>).</summary>
    public static BertPreTrainedModel LoadAuto(string path, PretrainedOptions? options = null) => BertAutoModel.FromPretrained(path, options);
}

public static partial class Pretrained
{
    /// <summary>
    /// The async form of a <c>FromPretrained</c>: the Hub download (if <paramref name="pathOrId"/> is a Hub id and not
    /// cached) runs asynchronously and honours <paramref name="ct"/>; the load itself then reads the local snapshot.
    /// </summary>
    public static async Task<T> LoadAsync<T>(string pathOrId, PretrainedOptions? options, Func<string, PretrainedOptions?, T> load,
        CancellationToken ct = default) where T : BertPreTrainedModel =>
        load(await Hub.ModelLocator.ResolveAsync(pathOrId, options?.Revision, null, ct).ConfigureAwait(false), options);
}
