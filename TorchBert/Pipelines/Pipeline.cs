using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Pipelines;

/// <summary>Settings shared by every pipeline (fixed when the pipeline is built; per-call options are each task's parameters record).</summary>
public sealed record PipelineOptions
{
    /// <summary>Where inputs are placed; null = the model's device.</summary>
    public Device? Device { get; init; }
    /// <summary>
    /// Parameter (compute) dtype of the model a <c>FromPretrained</c> loads: float32, bfloat16 or float16; null = float32.
    /// bfloat16 is 2–3× faster on CPUs with AVX512_BF16/AMX and on GPUs, slower elsewhere (a warning says so once).
    /// </summary>
    public ScalarType? DType { get; init; }
    /// <summary>Log the tensors flowing between Preprocess → Forward → Postprocess (at Debug level, to <see cref="Logger"/>).</summary>
    public bool Verbose { get; init; }
    /// <summary>Where the pipeline reports (the bf16/fp16 emulation warning, verbose traces); null = silent.</summary>
    public ILogger? Logger { get; init; }
    /// <summary>Resolves a model that is not a local path (the embedded model, a Hub id); null = <see cref="ModelLocator.Default"/>.</summary>
    public ModelLocator? Locator { get; init; }
    /// <summary>Model rows (chunks) per forward pass; longer lists are split.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>
    /// When a list needs several batches, group rows of similar length (longest first, as sentence-transformers'
    /// <c>encode</c> does) so less padding is computed; results still come back in input order.
    /// </summary>
    public bool SortByLength { get; init; } = true;
    /// <summary>
    /// Truncate inputs longer than the model accepts instead of failing. null = the task's default, as HF's pipelines:
    /// off for fill-mask, feature-extraction and text-classification; on for token-classification, zero-shot
    /// (first sequence only) and sentence embeddings (sentence-transformers' <c>max_seq_length</c>).
    /// Question answering always splits the context into windows instead.
    /// </summary>
    public bool? Truncation { get; init; }
    /// <summary>Longest tokenized input; null = the smaller of the tokenizer's and the model's limits.</summary>
    public int? MaxLength { get; init; }
    /// <summary>Branch, tag or commit when the model is a Hub id (null = <c>main</c>).</summary>
    public string? Revision { get; init; }
}

/// <summary>One model row made from an input: HF <c>ChunkPipeline</c>'s unit (a QA window, a strided NER window, a zero-shot hypothesis).</summary>
/// <param name="Input">index of the input it belongs to.</param>
/// <param name="Index">its position among that input's chunks.</param>
/// <param name="Text">the text shown in verbose output.</param>
/// <param name="Encoding">the tokenized row, unpadded.</param>
public sealed record PipelineChunk(int Input, int Index, string Text, BertEncoding Encoding);

/// <summary>
/// Tokenized rows as (B, T) int64 tensors on the pipeline's device, padded to the longest row, with the unpadded
/// encodings they came from (<see cref="BatchEncoding.Encodings"/>, one per row).
/// </summary>
public sealed class ModelInputs(IReadOnlyList<string> texts, BatchEncoding encoding, Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
{
    /// <summary>The texts of the rows.</summary>
    public IReadOnlyList<string> Texts { get; } = texts;
    /// <summary>The tokenizer's output the tensors were built from.</summary>
    public BatchEncoding Encoding { get; } = encoding;
    /// <summary>(B, T) token ids.</summary>
    public Tensor InputIds { get; } = inputIds;
    /// <summary>(B, T) 1/0 attention mask.</summary>
    public Tensor AttentionMask { get; } = attentionMask;
    /// <summary>(B, T) token type ids.</summary>
    public Tensor TokenTypeIds { get; } = tokenTypeIds;
}

/// <summary>
/// HF's <c>ChunkPipeline</c> shape. Per input, <see cref="Preprocess(TInput, int, TParams)"/> makes one or more
/// tokenized rows (chunks); rows of all inputs are batched (<see cref="PipelineOptions.BatchSize"/>, longest first
/// when several batches are needed), <see cref="Forward"/> runs the model on a batch and returns managed values per
/// row, and <see cref="Postprocess"/> turns one input's rows into its result. Per-call options are a
/// <typeparamref name="TParams"/> record (HF's <c>_sanitize_parameters</c> split: each step reads what it needs);
/// a call without one uses <see cref="DefaultParameters"/>.
/// Each batch runs under inference mode in its own dispose scope, so no native memory outlives the call; calls from
/// several threads are serialised (one forward at a time per pipeline). The pipeline owns its model: disposing the
/// pipeline disposes the model. A task head the checkpoint lacked (initialised at random) is refused when the
/// pipeline is built (<see cref="HeadName"/>).
/// </summary>
/// <typeparam name="TModel">the model class (the task head).</typeparam>
/// <typeparam name="TInput">one input: a string, a <see cref="TextPair"/>, a <see cref="QuestionContext"/>.</typeparam>
/// <typeparam name="TParams">per-call options.</typeparam>
/// <typeparam name="TRow">the managed model output of one row (copied off the device in <see cref="Forward"/>).</typeparam>
/// <typeparam name="TResult">one input's result.</typeparam>
public abstract class Pipeline<TModel, TInput, TParams, TRow, TResult> : IDisposable
    where TModel : BertPreTrainedModel where TParams : class
{
    private readonly Lock gate = new();

    /// <summary>A pipeline over <paramref name="model"/> and <paramref name="tokenizer"/> with default parameters <paramref name="defaults"/>; takes ownership of the model.</summary>
    protected Pipeline(TModel model, BertTokenizer tokenizer, PipelineOptions? options, TParams defaults)
    {
        NativeRuntime.EnsureLoaded();
        Model = model;
        Tokenizer = tokenizer;
        Options = options ?? new PipelineOptions();
        DefaultParameters = defaults;
        if (Options.BatchSize < 1) throw new ArgumentException($"BatchSize must be >= 1, got {Options.BatchSize}");
        if (Options.MaxLength is < 1) throw new ArgumentException($"MaxLength must be >= 1, got {Options.MaxLength}");
        if (Options.MaxLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"MaxLength {Options.MaxLength} is longer than the model allows: {model.Config.MaxPositionEmbeddings} tokens (max_position_embeddings)");
        Device = Options.Device ?? model.Device;
        if (tokenizer.VocabSize != model.Config.VocabSize)
            throw new ArgumentException($"tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.Config.VocabSize}");
        if (HeadName is { } head && model.LoadReport?.NewlyInitialized is { Count: > 0 } fresh)
        {
            // cls.predictions.*, bert.pooler.*, classifier.*, qa_outputs.*
            var groups = fresh.Select(k => string.Join('.', k.Split('.').Take(k.StartsWith("cls.", StringComparison.Ordinal) || k.StartsWith("bert.", StringComparison.Ordinal) ? 2 : 1)) + ".*").Distinct();
            throw new ArgumentException(
                $"{model.LoadReport.Source} has no {head} ({string.Join(", ", groups)} were not in the checkpoint): {TaskName} would be random");
        }
        model.eval();
        CpuFeatures.WarnOnceIfSlow(model.DType, model.Device.type, Options.Logger);
    }

    /// <summary>The model (owned: disposed with the pipeline).</summary>
    public TModel Model { get; }
    /// <summary>The tokenizer.</summary>
    public BertTokenizer Tokenizer { get; }
    /// <summary>The options in effect.</summary>
    public PipelineOptions Options { get; }
    /// <summary>The device the model runs on.</summary>
    public Device Device { get; }
    /// <summary>The options a call without its own uses.</summary>
    public TParams DefaultParameters { get; }
    /// <summary>Where the pipeline reports (<see cref="PipelineOptions.Logger"/>; silent without one).</summary>
    protected ILogger Logger => Options.Logger ?? NullLogger.Instance;

    /// <summary>HF's task name (<c>fill-mask</c>, <c>question-answering</c>, ...), used in messages.</summary>
    public abstract string TaskName { get; }

    /// <summary>The head this task needs ("MLM head", "classification head", ...); null for the bare encoder (no guard).</summary>
    protected virtual string? HeadName => null;

    /// <summary>Longest input (special tokens included) the model accepts.</summary>
    public int MaxLength => Options.MaxLength ?? Math.Min(Tokenizer.ModelMaxLength, Model.Config.MaxPositionEmbeddings);

    /// <summary>Runs one input.</summary>
    public TResult Run(TInput input, TParams? parameters = null) => Run([input], parameters)[0];

    /// <summary>Runs a list of inputs; results in input order. <paramref name="cancellationToken"/> is checked before each batch (cancelled: <see cref="OperationCanceledException"/>, no results).</summary>
    public IReadOnlyList<TResult> Run(IReadOnlyList<TInput> inputs, TParams? parameters = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var p = parameters ?? DefaultParameters;
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i] is null) throw new ArgumentException($"input {i} is null");
        Validate(p);
        var chunks = new List<PipelineChunk>();
        var perInput = new List<PipelineChunk>[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            var rows = Preprocess(inputs[i], i, p);
            perInput[i] = new List<PipelineChunk>(rows.Count);
            for (int c = 0; c < rows.Count; c++)
            {
                var chunk = new PipelineChunk(i, c, Describe(inputs[i]), rows[c]);
                perInput[i].Add(chunk);
                chunks.Add(chunk);
            }
        }
        var outputs = new Dictionary<PipelineChunk, TRow>(ReferenceEqualityComparer.Instance);
        var order = BatchOrder(chunks);
        lock (gate)
        {
            for (int start = 0; start < order.Length; start += Options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = order.AsSpan(start, Math.Min(Options.BatchSize, order.Length - start)).ToArray().Select(k => chunks[k]).ToList();
                var rows = RunBatch(batch, p);
                for (int k = 0; k < batch.Count; k++) outputs[batch[k]] = rows[k];
            }
        }
        var results = new TResult[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
            results[i] = Postprocess(inputs[i], perInput[i], perInput[i].Select(c => outputs[c]).ToList(), p);
        return results;
    }

    /// <summary>
    /// Serving step 1: one input → its tokenized rows, exactly as <see cref="Run(IReadOnlyList{TInput}, TParams?, CancellationToken)"/> makes them
    /// (throws <see cref="ArgumentException"/> for bad input). Rows of many inputs (and callers) can then share one
    /// <see cref="ForwardRows"/>, and each input's outputs go back through <see cref="Finish"/>.
    /// </summary>
    public IReadOnlyList<BertEncoding> Prepare(TInput input, TParams? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        var p = parameters ?? DefaultParameters;
        Validate(p);
        return Preprocess(input, 0, p);
    }

    /// <summary>
    /// Serving step 2: one forward pass over already-tokenized rows (any mix of inputs, unpadded; padded here to the
    /// longest), one managed output per row, in order. Not split by <see cref="PipelineOptions.BatchSize"/>: the caller
    /// sizes the batch. Serialised with <see cref="Run(IReadOnlyList{TInput}, TParams?, CancellationToken)"/> like any other call.
    /// </summary>
    public IReadOnlyList<TRow> ForwardRows(IReadOnlyList<BertEncoding> rows, TParams? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) return [];
        var p = parameters ?? DefaultParameters;
        var chunks = rows.Select((e, k) => new PipelineChunk(k, 0, "", e)).ToList();
        lock (gate) return RunBatch(chunks, p);
    }

    /// <summary>Serving step 3: one input's rows (from <see cref="Prepare"/>) and their outputs (from <see cref="ForwardRows"/>) → its result.</summary>
    public TResult Finish(TInput input, IReadOnlyList<BertEncoding> rows, IReadOnlyList<TRow> outputs, TParams? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(outputs);
        if (rows.Count != outputs.Count) throw new ArgumentException($"{rows.Count} rows but {outputs.Count} outputs");
        var text = Describe(input);
        var chunks = rows.Select((e, c) => new PipelineChunk(0, c, text, e)).ToList();
        return Postprocess(input, chunks, outputs, parameters ?? DefaultParameters);
    }

    /// <summary>Rows in input order, or longest-first by token count when <see cref="PipelineOptions.SortByLength"/> and several batches.</summary>
    private int[] BatchOrder(List<PipelineChunk> chunks)
    {
        var order = Enumerable.Range(0, chunks.Count);
        return Options.SortByLength && chunks.Count > Options.BatchSize
            ? order.OrderByDescending(k => chunks[k].Encoding.Length).ToArray()
            : order.ToArray();
    }

    private IReadOnlyList<TRow> RunBatch(IReadOnlyList<PipelineChunk> batch, TParams p)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var inputs = Collate(batch);
        if (Options.Verbose) TraceInputs(inputs);
        var rows = Forward(inputs, p);
        if (rows.Count != batch.Count) throw new InvalidOperationException($"{GetType().Name}.Forward returned {rows.Count} rows for a batch of {batch.Count}");
        return rows;
    }

    /// <summary>Checks per-call options before anything runs (one-line <see cref="ArgumentException"/>s).</summary>
    protected virtual void Validate(TParams parameters) { }

    /// <summary>One input → its tokenized rows (unpadded). Throw <see cref="ArgumentException"/> naming input <paramref name="index"/> for bad input.</summary>
    protected abstract IReadOnlyList<BertEncoding> Preprocess(TInput input, int index, TParams parameters);

    /// <summary>The rows of one batch → tensors on <see cref="Device"/> (padded to the longest row); checks each fits the model.</summary>
    protected virtual ModelInputs Collate(IReadOnlyList<PipelineChunk> batch)
    {
        var rows = batch.Select(c => c.Encoding).ToList();
        for (int k = 0; k < rows.Count; k++)
        {
            var length = rows[k].AttentionMask.Count(m => m != 0);
            if (length > MaxLength)
                throw new ArgumentException(
                    $"input {batch[k].Input} is {length} tokens long; the model takes at most {MaxLength} (max_position_embeddings {Model.Config.MaxPositionEmbeddings}). Shorten it or enable truncation.");
        }
        var t = rows.Count == 0 ? 0 : rows.Max(r => r.Length);
        var ids = new long[rows.Count * t];
        var mask = new long[rows.Count * t];
        var types = new long[rows.Count * t];
        Array.Fill(ids, Tokenizer.PadTokenId);
        for (int k = 0; k < rows.Count; k++)
        {
            rows[k].InputIds.CopyTo(ids, k * t);
            rows[k].AttentionMask.CopyTo(mask, k * t);
            rows[k].TokenTypeIds.CopyTo(types, k * t);
        }
        long[] shape = [rows.Count, t];
        return new ModelInputs(batch.Select(c => c.Text).ToList(), new BatchEncoding(rows),
            tensor(ids, shape, device: Device), tensor(mask, shape, device: Device), tensor(types, shape, device: Device));
    }

    /// <summary>Runs the model on a batch (already under inference mode and a dispose scope); one managed value per row.</summary>
    protected abstract IReadOnlyList<TRow> Forward(ModelInputs inputs, TParams parameters);

    /// <summary>One input's rows (in chunk order) → its result.</summary>
    protected abstract TResult Postprocess(TInput input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<TRow> rows, TParams parameters);

    /// <summary>How an input is shown in verbose output.</summary>
    protected virtual string Describe(TInput input) => input?.ToString() ?? "";

    /// <summary>Tokenizes one text (or pair) with the pipeline's truncation: on when <see cref="PipelineOptions.Truncation"/> (or <paramref name="truncateByDefault"/> when that is null).</summary>
    protected BertEncoding Encode(string text, string? pair = null, bool truncateByDefault = false,
        TruncationStrategy strategy = TruncationStrategy.LongestFirst, int? maxLength = null)
    {
        var truncate = Options.Truncation ?? truncateByDefault;
        return Tokenizer.Encode(text, pair, new EncodeOptions
        {
            Truncation = truncate ? strategy : TruncationStrategy.None,
            MaxLength = truncate ? Math.Min(maxLength ?? MaxLength, MaxLength) : null,
        });
    }

    /// <summary>A (B, ...) tensor as one flat float32 array per row (row-major).</summary>
    protected static float[][] Rows(Tensor logits)
    {
        var t = logits.to(ScalarType.Float32).cpu();
        var all = t.data<float>().ToArray();
        var b = (int)t.shape[0];
        var per = all.Length / Math.Max(b, 1);
        return Enumerable.Range(0, b).Select(i => all.AsSpan(i * per, per).ToArray()).ToArray();
    }

    private void TraceInputs(ModelInputs inputs)
    {
        Logger.LogDebug("[preprocess] {Count} input(s) → tensors on {Device}", inputs.Texts.Count, Device.ToString());
        for (int i = 0; i < inputs.Texts.Count; i++)
            Logger.LogDebug("  tokens[{Row}]: {Tokens}", i, string.Join(' ', inputs.Encoding.Tokens[i]));
        Trace("preprocess", "input_ids", inputs.InputIds);
        Trace("preprocess", "token_type_ids", inputs.TokenTypeIds);
        Trace("preprocess", "attention_mask", inputs.AttentionMask);
    }

    /// <summary>Verbose mode: one line with a tensor's shape, dtype and device, then its first values.</summary>
    protected void Trace(string step, string name, Tensor t)
    {
        if (!Options.Verbose) return;
        Logger.LogDebug("[{Step}] {Name}: shape ({Shape}) {DType} on {Device}", step, name, string.Join(", ", t.shape), t.dtype, t.device.ToString());
        using var scope = NewDisposeScope();
        var row = t.dim() == 0 ? t.reshape(1) : t.reshape(-1, t.shape[^1])[0];
        var n = (int)Math.Min(row.shape[0], 12);
        var values = row[..n].to(ScalarType.Float64).cpu().data<double>().ToArray();
        var text = string.Join(", ", values.Select(v => t.dtype is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool ? ((long)v).ToString() : v.ToString("G5", System.Globalization.CultureInfo.InvariantCulture)));
        Logger.LogDebug("    first row: [{Values}]", text + (row.shape[0] > n ? ", ..." : ""));
    }

    /// <summary>Disposes the model.</summary>
    public void Dispose()
    {
        Model.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>How pipelines load their model: <see cref="PipelineOptions.Device"/> wins over the model options' device.</summary>
public static class PipelineLoading
{
    /// <summary>The model-loading options: <paramref name="model"/>, else those implied by <paramref name="options"/> (device, dtype).</summary>
    public static PretrainedOptions ModelOptions(PipelineOptions? options, PretrainedOptions? model) =>
        (model ?? new PretrainedOptions()) with
        {
            Device = options?.Device ?? model?.Device,
            DType = options?.DType ?? model?.DType,
            Revision = options?.Revision ?? model?.Revision,
        };

    /// <summary>Loads the model and tokenizer of <paramref name="path"/> and builds the pipeline; the model is disposed if that fails.</summary>
    public static TPipeline Load<TModel, TPipeline>(string path, PipelineOptions? options, PretrainedOptions? model,
        Func<string, PretrainedOptions, ModelLocator, TModel> load, Func<TModel, BertTokenizer, TPipeline> build) where TModel : BertPreTrainedModel
    {
        var m = load(path, ModelOptions(options, model), options?.Locator ?? ModelLocator.Default);
        try { return build(m, TokenizerLoader.ForModel(path, options?.Revision ?? model?.Revision, options?.Locator)); }
        catch { m.Dispose(); throw; }
    }
}

/// <summary>
/// The simple shape: one string → one padded row → one result, no per-call options. Override <see cref="Forward(ModelInputs)"/>
/// (tensors → model outputs) and <see cref="Postprocess(ModelInputs, TOutput)"/> (outputs → one result per row).
/// </summary>
public abstract class Pipeline<TModel, TOutput, TResult>(TModel model, BertTokenizer tokenizer, PipelineOptions? options)
    : Pipeline<TModel, string, NoParameters, TResult, TResult>(model, tokenizer, options, NoParameters.Instance)
    where TModel : BertPreTrainedModel
{
    /// <inheritdoc/>
    public override string TaskName => GetType().Name;

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string input, int index, NoParameters parameters) => [Encode(input)];

    /// <inheritdoc/>
    protected sealed override IReadOnlyList<TResult> Forward(ModelInputs inputs, NoParameters parameters) => Postprocess(inputs, Forward(inputs));

    /// <inheritdoc/>
    protected sealed override TResult Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<TResult> rows, NoParameters parameters) => rows[0];

    /// <summary>Runs the model (already under inference mode and a dispose scope).</summary>
    protected abstract TOutput Forward(ModelInputs inputs);

    /// <summary>Turns model outputs into managed results, one per row (nothing native may escape).</summary>
    protected abstract IReadOnlyList<TResult> Postprocess(ModelInputs inputs, TOutput outputs);
}
