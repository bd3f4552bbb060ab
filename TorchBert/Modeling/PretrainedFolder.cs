using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

public static partial class Pretrained
{
    /// <summary>
    /// HF <c>from_pretrained</c> for a local folder (HF layout or a TorchBert-converted one):
    /// reads config.json, opens the weights, builds the model through <paramref name="create"/> (config, has pooler) with
    /// uninitialised parameters already on the device and dtype, reads every tensor straight into its parameter, and returns
    /// the model in eval mode. Each weight is allocated once; nothing is initialised twice.
    /// </summary>
    public static T Load<T>(string path, PretrainedOptions? options, Func<BertConfig, bool, T> create) where T : BertPreTrainedModel
    {
        options ??= new PretrainedOptions();
        var dtype = options.DType ?? ScalarType.Float32;
        if (dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64))
            throw new ArgumentException($"dtype {dtype} is not a floating-point parameter type (float32, float16, bfloat16, float64)", nameof(options));
        NativeRuntime.EnsureLoaded();
        using var source = ModelSource.Open(path, options.NumAttentionHeads, options.Revision);
        var config = source.Config;
        if (options.AttnImplementation is { } attn) config.AttnImplementation = attn;

        var device = options.Device ?? DefaultDevice();
        T model;
        using (ModuleFactory.Uninitialized(device, dtype))
            model = create(config, HasPooler(source.Weights));

        try
        {
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
}

public static partial class Pretrained
{
    /// <summary>
    /// HF <c>AutoModel</c>-style: <see cref="BertForMaskedLM"/> when the checkpoint has an MLM head
    /// (<c>cls.predictions.*</c>), else <see cref="BertModel"/>.
    /// </summary>
    public static BertPreTrainedModel LoadAuto(string path, PretrainedOptions? options = null)
    {
        bool hasHead;
        using (var source = Checkpoints.ModelSource.Open(path, options?.NumAttentionHeads, options?.Revision))
            hasHead = source.Weights.Tensors.Any(t => t.Name.StartsWith("cls.predictions.", StringComparison.Ordinal));
        return hasHead ? BertForMaskedLM.FromPretrained(path, options) : BertModel.FromPretrained(path, options);
    }
}
