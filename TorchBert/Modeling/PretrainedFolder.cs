using TorchBert.Checkpoints;
using TorchBert.Configuration;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

public static partial class Pretrained
{
    /// <summary>
    /// HF <c>from_pretrained</c> for an opened model (<paramref name="source"/>: config and weights, as the Loading layer's
    /// <c>ModelLocator.Open</c> reads them from a folder, .onnx export or Hub id; the source stays the caller's):
    /// applies <see cref="PretrainedOptions.ConfigureConfig"/> to a copy of the config, builds the model through
    /// <paramref name="create"/> (config, the checkpoint's tensor names) with
    /// uninitialised parameters already on the device and dtype, reads every tensor straight into its parameter, and returns
    /// the model in eval mode. Each weight is allocated once; nothing is initialised twice.
    /// </summary>
    /// <param name="source">the opened model.</param>
    /// <param name="options">device, dtype, attention implementation, config changes.</param>
    /// <param name="create">builds the model for a config and the checkpoint's tensor names.</param>
    /// <param name="name">how messages name the model (what the user passed, e.g. a Hub id); default: the source's path.</param>
    public static T Load<T>(ModelSource source, PretrainedOptions? options, Func<BertConfig, IReadOnlySet<string>, T> create,
        string? name = null) where T : BertPreTrainedModel
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= new PretrainedOptions();
        var path = name ?? source.Path;
        var dtype = CheckDType(options);
        NativeRuntime.EnsureLoaded();
        var config = source.Config.Clone();
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
            var report = LoadWeights(model, source.Weights);
            LogReport(options.Logger, model, report, path);
            model.Logger = options.Logger;
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

    /// <summary>The parameter dtype <paramref name="options"/> ask for (float32 by default); refuses a non-floating-point one.</summary>
    internal static ScalarType CheckDType(PretrainedOptions? options)
    {
        var dtype = options?.DType ?? ScalarType.Float32;
        if (!DTypeNames.Supported.Contains(dtype))
            throw new ArgumentException($"dtype {dtype} is not a floating-point parameter type (float32, float16, bfloat16, float64)", nameof(options));
        return dtype;
    }

    /// <summary>HF's <c>from_pretrained</c> load messages: newly initialised and unused weights as warnings, else one Trace line.</summary>
    private static void LogReport(ILogger? logger, BertPreTrainedModel model, LoadReport report, string path)
    {
        if (logger is null) return;
        var cls = model.GetType().Name;
        if (report.Unexpected.Count > 0)
            logger.LogWarning("Some weights of the model checkpoint at {Path} were not used when initializing {Class}: {Keys}",
                path, cls, string.Join(", ", report.Unexpected));
        if (report.NewlyInitialized.Count > 0)
            logger.LogWarning("Some weights of {Class} were not initialized from the model checkpoint at {Path} and are newly initialized: {Keys}. " +
                              "You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.",
                cls, path, string.Join(", ", report.NewlyInitialized));
        if (report.Unexpected.Count == 0 && report.NewlyInitialized.Count == 0)
            logger.LogTrace("All the weights of {Class} were initialized from the model checkpoint at {Path} ({Loaded} tensors, {Format})",
                cls, path, report.Loaded, report.Format);
    }
}
