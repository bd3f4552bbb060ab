using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Pipelines;

/// <summary>Settings shared by every pipeline.</summary>
public sealed record PipelineOptions
{
    /// <summary>Where inputs are placed; null = the model's device.</summary>
    public Device? Device { get; init; }
    /// <summary>
    /// Parameter (compute) dtype of the model a <c>FromPretrained</c> loads: float32, bfloat16 or float16; null = float32.
    /// bfloat16 is 2–3× faster on CPUs with AVX512_BF16/AMX and on GPUs, slower elsewhere (a warning says so once).
    /// </summary>
    public ScalarType? DType { get; init; }
    /// <summary>Print the tensors flowing between Preprocess → Forward → Postprocess.</summary>
    public bool Verbose { get; init; }
    /// <summary>Where verbose output goes; null = stderr.</summary>
    public TextWriter? Log { get; init; }
    /// <summary>Inputs per forward pass; longer lists are split.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>
    /// When a list needs several batches, group inputs of similar length (longest first, as sentence-transformers'
    /// <c>encode</c> does) so less padding is computed; results still come back in input order.
    /// </summary>
    public bool SortByLength { get; init; } = true;
    /// <summary>Truncate inputs longer than the model accepts instead of failing.</summary>
    public bool Truncation { get; init; }
    /// <summary>Longest tokenized input; null = the smaller of the tokenizer's and the model's limits.</summary>
    public int? MaxLength { get; init; }
    /// <summary>Branch, tag or commit when the model is a Hub id (null = <c>main</c>).</summary>
    public string? Revision { get; init; }
}

/// <summary>Tokenized inputs as (B, T) int64 tensors on the pipeline's device, with the encoding they came from.</summary>
public sealed class ModelInputs(IReadOnlyList<string> texts, BatchEncoding encoding, Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
{
    public IReadOnlyList<string> Texts { get; } = texts;
    public BatchEncoding Encoding { get; } = encoding;
    public Tensor InputIds { get; } = inputIds;
    public Tensor AttentionMask { get; } = attentionMask;
    public Tensor TokenTypeIds { get; } = tokenTypeIds;
}

/// <summary>
/// HF's <c>Pipeline</c> shape: <see cref="Preprocess"/> (strings → tensors on the device) → <see cref="Forward"/>
/// (tensors → model outputs) → <see cref="Postprocess"/> (outputs → results). Override any step in a subclass.
/// Each <see cref="Run(IReadOnlyList{string})"/> runs under inference mode in its own dispose scope, so no native memory
/// outlives the call; calls from several threads are serialised (one forward at a time per pipeline).
/// The pipeline owns its model: disposing the pipeline disposes the model.
/// </summary>
public abstract class Pipeline<TModel, TOutput, TResult> : IDisposable where TModel : BertPreTrainedModel
{
    private readonly Lock gate = new();

    protected Pipeline(TModel model, BertTokenizer tokenizer, PipelineOptions? options)
    {
        NativeRuntime.EnsureLoaded();
        Model = model;
        Tokenizer = tokenizer;
        Options = options ?? new PipelineOptions();
        if (Options.BatchSize < 1) throw new ArgumentException($"BatchSize must be >= 1, got {Options.BatchSize}");
        Device = Options.Device ?? model.Device;
        if (tokenizer.VocabSize != model.Config.VocabSize)
            throw new ArgumentException($"tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.Config.VocabSize}");
        model.eval();
        CpuFeatures.WarnOnceIfSlow(model.DType, model.Device.type, Options.Log);
    }

    public TModel Model { get; }
    public BertTokenizer Tokenizer { get; }
    public PipelineOptions Options { get; }
    public Device Device { get; }
    protected TextWriter Log => Options.Log ?? Console.Error;

    /// <summary>Longest input (special tokens included) the model accepts.</summary>
    public int MaxLength => Math.Min(Options.MaxLength ?? int.MaxValue, Math.Min(Tokenizer.ModelMaxLength, Model.Config.MaxPositionEmbeddings));

    public TResult Run(string input) => Run([input])[0];

    public IReadOnlyList<TResult> Run(IReadOnlyList<string> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i] is null) throw new ArgumentException($"input {i} is null");
        var order = BatchOrder(inputs);
        var results = new TResult[inputs.Count];
        lock (gate)
        {
            for (int start = 0; start < order.Length; start += Options.BatchSize)
            {
                var indices = order.AsSpan(start, Math.Min(Options.BatchSize, order.Length - start)).ToArray();
                var batch = RunBatch(indices.Select(i => inputs[i]).ToList());
                for (int k = 0; k < indices.Length; k++) results[indices[k]] = batch[k];
            }
        }
        return results;
    }

    /// <summary>Input order, or longest-first by character length when <see cref="PipelineOptions.SortByLength"/> and several batches.</summary>
    private int[] BatchOrder(IReadOnlyList<string> inputs)
    {
        var order = Enumerable.Range(0, inputs.Count);
        return Options.SortByLength && inputs.Count > Options.BatchSize
            ? order.OrderByDescending(i => inputs[i].Length).ToArray()
            : order.ToArray();
    }

    private IReadOnlyList<TResult> RunBatch(IReadOnlyList<string> batch)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var inputs = Preprocess(batch);
        if (Options.Verbose) TraceInputs(inputs);
        var outputs = Forward(inputs);
        return Postprocess(inputs, outputs);
    }

    /// <summary>Tokenizes (padding to the longest, truncating when allowed) and builds the tensors on <see cref="Device"/>.</summary>
    protected virtual ModelInputs Preprocess(IReadOnlyList<string> texts)
    {
        var encoding = Tokenizer.EncodeBatch(texts, null, new EncodeOptions
        {
            Padding = PaddingStrategy.Longest,
            Truncation = Options.Truncation ? TruncationStrategy.LongestFirst : null,
            MaxLength = Options.Truncation ? MaxLength : null,
        });
        for (int i = 0; i < encoding.BatchSize; i++)
        {
            var length = encoding.AttentionMask[i].Count(m => m != 0);
            if (length > MaxLength)
                throw new ArgumentException(
                    $"input {i} is {length} tokens long; the model takes at most {MaxLength} (max_position_embeddings {Model.Config.MaxPositionEmbeddings}). Shorten it or enable truncation.");
        }
        long[] shape = encoding.Shape;
        return new ModelInputs(texts, encoding,
            tensor(encoding.FlatInputIds(), shape, device: Device),
            tensor(encoding.FlatAttentionMask(), shape, device: Device),
            tensor(encoding.FlatTokenTypeIds(), shape, device: Device));
    }

    /// <summary>Runs the model (already under inference mode and a dispose scope).</summary>
    protected abstract TOutput Forward(ModelInputs inputs);

    /// <summary>Turns model outputs into managed results (nothing native may escape).</summary>
    protected abstract IReadOnlyList<TResult> Postprocess(ModelInputs inputs, TOutput outputs);

    private void TraceInputs(ModelInputs inputs)
    {
        Log.WriteLine($"[preprocess] {inputs.Texts.Count} input(s) → tensors on {Device}");
        for (int i = 0; i < inputs.Texts.Count; i++)
            Log.WriteLine($"  tokens[{i}]: {string.Join(' ', inputs.Encoding.Tokens[i])}");
        Trace("preprocess", "input_ids", inputs.InputIds);
        Trace("preprocess", "token_type_ids", inputs.TokenTypeIds);
        Trace("preprocess", "attention_mask", inputs.AttentionMask);
    }

    /// <summary>Verbose mode: one line with a tensor's shape, dtype and device, then its first values.</summary>
    protected void Trace(string step, string name, Tensor t)
    {
        if (!Options.Verbose) return;
        Log.WriteLine($"[{step}] {name}: shape ({string.Join(", ", t.shape)}) {t.dtype} on {t.device}");
        using var scope = NewDisposeScope();
        var row = t.dim() == 0 ? t.reshape(1) : t.reshape(-1, t.shape[^1])[0];
        var n = (int)Math.Min(row.shape[0], 12);
        var values = row[..n].to(ScalarType.Float64).cpu().data<double>().ToArray();
        var text = string.Join(", ", values.Select(v => t.dtype is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool ? ((long)v).ToString() : v.ToString("G5", System.Globalization.CultureInfo.InvariantCulture)));
        Log.WriteLine($"    first row: [{text}{(row.shape[0] > n ? ", ..." : "")}]");
    }

    public void Dispose()
    {
        Model.Dispose();
        GC.SuppressFinalize(this);
    }
}
