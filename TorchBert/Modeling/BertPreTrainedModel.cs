using Microsoft.Extensions.Logging;
using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// Port of HF <c>BertPreTrainedModel</c>: holds the config, HF's weight initialisation and the module-tree printout.
/// Loading lives in <see cref="Pretrained"/>.
/// </summary>
public abstract class BertPreTrainedModel(string name, BertConfig config) : nn.Module(name)
{
    /// <summary>HF <c>base_model_prefix</c>: checkpoints of heads keep the encoder under this key prefix.</summary>
    public const string BaseModelPrefix = "bert";

    /// <summary>The model's configuration.</summary>
    public BertConfig Config { get; } = config.FrozenCopy();

    /// <summary>What this class declares about loading (tied keys, keys it may lack or ignore); see <see cref="Modeling.LoadingPolicy"/>.</summary>
    public virtual LoadingPolicy LoadingPolicy => LoadingPolicy.None;

    /// <summary>
    /// Whether this class runs HF's decoder path when <c>config.is_decoder</c> is set (causal mask, cross-attention).
    /// The loader refuses a decoder config for a class that would ignore it (true for BertModel and BertLMHeadModel).
    /// </summary>
    protected internal virtual bool HonorsDecoderConfig => false;

    /// <summary>
    /// PyTorch's state dict: every parameter once under its owner's key, plus the tied aliases the class declares
    /// (<see cref="LoadingPolicy.TiedWeights"/>, e.g. <c>cls.predictions.decoder.weight</c> = the word embeddings).
    /// </summary>
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null)
    {
        RestorePlainWeights(keepPacked: true); // the dictionary holds the live parameters: keep them plain from now on
        var result = base.state_dict(destination, prefix);
        var p = string.IsNullOrEmpty(prefix) ? "" : prefix + ".";
        foreach (var (alias, owner) in LoadingPolicy.TiedWeights)
            if (result.TryGetValue(p + owner, out var t)) result.TryAdd(p + alias, t);
        return result;
    }

    /// <summary>
    /// Whether this model's Linear layers may run on the oneDNN inference fast path (default true; see
    /// <see cref="InferenceFastPath"/>, which also holds the process-wide switch). Setting false puts the plain
    /// weights back and frees the packed ones.
    /// </summary>
    public bool UseFastPath
    {
        get => useFastPath;
        set
        {
            useFastPath = value;
            foreach (var g in FastLinearGroups()) g.Enabled = value;
            if (!value) RestorePlainWeights(keepPacked: false);
        }
    }

    private bool useFastPath = true;

    /// <summary>
    /// Where this model's notes go: the inference fast path says once what it runs on (Information) or why it falls
    /// back to F.linear (Warning). <c>FromPretrained</c> sets it from <see cref="PretrainedOptions.Logger"/>; null
    /// leaves the notes to <see cref="InferenceFastPath.Log"/>.
    /// </summary>
    public ILogger? Logger
    {
        get => logger;
        set
        {
            logger = value;
            foreach (var g in FastLinearGroups()) g.Logger = value;
        }
    }

    private ILogger? logger;

    /// <summary>How many Linear groups (a layer's fused Q/K/V counts once) run packed on the fast path right now.</summary>
    public int PackedLinearGroups => FastLinearGroups().Count(g => g.IsPacked);

    /// <summary>The fast-path groups of every layer under this model.</summary>
    internal IEnumerable<FastLinears> FastLinearGroups() =>
        modules().OfType<IFastLinearOwner>().SelectMany(o => o.FastLinearGroups);

    /// <summary>Puts the plain Linear weights back where the fast path released them (bit for bit); frees the packed
    /// copies unless <paramref name="keepPacked"/>.</summary>
    internal void RestorePlainWeights(bool keepPacked)
    {
        foreach (var g in FastLinearGroups()) g.Restore(keepPacked);
    }

    /// <summary>Training mode needs the plain weights (and they will change): the packed copies are dropped first.</summary>
    public override void train(bool train = true)
    {
        if (train) RestorePlainWeights(keepPacked: false);
        base.train(train);
    }

    /// <inheritdoc/>
    public override (IList<string> missing_keys, IList<string> unexpected_keyes) load_state_dict(
        Dictionary<string, Tensor> source, bool strict = true, IList<string>? skip = null)
    {
        RestorePlainWeights(keepPacked: false);
        return base.load_state_dict(source, strict, skip);
    }

    /// <inheritdoc/>
    protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking)
    {
        RestorePlainWeights(keepPacked: false);
        return base._to(device, dtype, non_blocking);
    }

    /// <inheritdoc/>
    protected override nn.Module _to(DeviceType deviceType, int deviceIndex, bool non_blocking)
    {
        RestorePlainWeights(keepPacked: false);
        return base._to(deviceType, deviceIndex, non_blocking);
    }

    /// <inheritdoc/>
    protected override nn.Module _to(ScalarType dtype, bool non_blocking)
    {
        RestorePlainWeights(keepPacked: false);
        return base._to(dtype, non_blocking);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var g in FastLinearGroups()) g.Free();
        base.Dispose(disposing);
    }

    /// <summary>What the last <see cref="Pretrained"/> load did (renamed, ignored, tied, newly initialised keys).</summary>
    public LoadReport? LoadReport { get; internal set; }

    /// <summary>True while a checkpoint is about to overwrite every weight (see <see cref="ModuleFactory.Uninitialized"/>): HF's no_init_weights.</summary>
    internal static bool SkipInit => ModuleFactory.SkipsInit;

    /// <summary>Device of the parameters.</summary>
    public Device Device => parameters().First().device;

    /// <summary>dtype of the parameters (the compute dtype).</summary>
    public ScalarType DType => parameters().First().dtype;

    /// <summary>
    /// HF <c>_init_weights</c>: Linear and Embedding weights ~ N(0, initializer_range), biases 0, the padding row 0,
    /// LayerNorm weight 1 and bias 0.
    /// </summary>
    public void InitWeights()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope(); // frees the wrappers TorchSharp's Embedding.weight creates on each call
        var std = Config.InitializerRange;
        foreach (var (_, m) in named_modules())
        {
            switch (m)
            {
                case Linear l:
                    nn.init.normal_(l.weight!, 0, std);
                    if (l.bias is not null) nn.init.zeros_(l.bias);
                    break;
                case Embedding e:
                    nn.init.normal_(e.weight!, 0, std);
                    if (ReferenceEquals(m, FindWordEmbeddings())) e.weight![Config.PadTokenId].zero_();
                    break;
                case LayerNorm ln:
                    nn.init.ones_(ln.weight!);
                    nn.init.zeros_(ln.bias!);
                    break;
            }
        }
        InitHeadExtras();
    }

    /// <summary>HF's initialisation for the named parameters only (head keys a checkpoint didn't have).</summary>
    internal void InitNewlyInitialized(IEnumerable<string> keys)
    {
        using var noGrad = no_grad();
        var parameters = named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var key in keys)
        {
            if (!parameters.TryGetValue(key, out var p)) continue;
            if (key.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) nn.init.ones_(p);
            else if (key.EndsWith("bias", StringComparison.Ordinal)) nn.init.zeros_(p);
            else nn.init.normal_(p, 0, Config.InitializerRange);
        }
    }

    /// <summary>Parameters outside Linear/Embedding/LayerNorm (e.g. the MLM output bias).</summary>
    protected virtual void InitHeadExtras() { }

    private nn.Module? FindWordEmbeddings() =>
        named_modules().FirstOrDefault(p => p.name.EndsWith("embeddings.word_embeddings", StringComparison.Ordinal)).module;

    /// <summary>
    /// The class's forward with its inputs by HF name (for generic callers: CLI, converter); an input the class does
    /// not take is an <see cref="ArgumentException"/>.
    /// </summary>
    public virtual ModelOutput Forward(ForwardInputs inputs) =>
        throw new NotSupportedException($"{GetType().Name} does not implement Forward(ForwardInputs)");

    /// <summary>Number of parameters, counting tied ones once.</summary>
    public long ParameterCount() =>
        parameters().Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>().Sum(p => p.numel());

    /// <summary>The PyTorch-style module tree, as <c>print(model)</c> shows it.</summary>
    public override string ToString() => ModuleRepr.Format(this);
}
