using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Pipelines;

/// <summary>
/// Overrides of what the model folder says (<see cref="SentenceTransformerConfig"/>); null = the folder decides.
/// </summary>
public sealed record SentenceEmbeddingOptions
{
    /// <summary>Pooling instead of the folder's <c>1_Pooling/config.json</c> (TEI's <c>--pooling</c>).</summary>
    public Pooling? Pooling { get; init; }
    /// <summary>L2-normalize (true) or not (false) instead of what <c>modules.json</c>'s Normalize module says.</summary>
    public bool? Normalize { get; init; }
    /// <summary>Prompt used when a call names none, instead of <c>default_prompt_name</c> (must be one of the model's prompts; "" = none).</summary>
    public string? DefaultPromptName { get; init; }
    /// <summary>Include the prompt's tokens in the pooling (sentence-transformers' <c>include_prompt</c>).</summary>
    public bool? IncludePrompt { get; init; }

    /// <summary><paramref name="config"/> with these overrides applied.</summary>
    public SentenceTransformerConfig ApplyTo(SentenceTransformerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (DefaultPromptName is { Length: > 0 } name && !config.Prompts.ContainsKey(name))
            config.ResolvePrompt(name);                                            // throws: names the known prompts
        return config with
        {
            PoolingModes = Pooling is { } p ? [p] : config.PoolingModes,
            Normalize = Normalize ?? config.Normalize,
            IncludePrompt = IncludePrompt ?? config.IncludePrompt,
            DefaultPromptName = DefaultPromptName is null ? config.DefaultPromptName : DefaultPromptName.Length == 0 ? null : DefaultPromptName,
        };
    }
}

/// <summary>Per-call options of <see cref="SentenceEmbeddingPipeline"/> (sentence-transformers' <c>encode</c> arguments).</summary>
public sealed record SentenceEmbeddingParameters
{
    /// <summary>The default: the model's default prompt, full dimensions.</summary>
    public static SentenceEmbeddingParameters Default { get; } = new();

    /// <summary>Name of one of the model's prompts (<c>prompt_name</c>), e.g. <c>query</c>; unknown = <see cref="ArgumentException"/>.</summary>
    public string? PromptName { get; init; }
    /// <summary>A literal prompt (<c>prompt</c>), prepended to every text; wins over <see cref="PromptName"/>; "" = no prompt.</summary>
    public string? Prompt { get; init; }
    /// <summary>
    /// Keep the first this-many dimensions (sentence-transformers' <c>truncate_dim</c>); a normalizing model's vectors are
    /// L2-normalized again after the cut (as <c>encode(truncate_dim=d, normalize_embeddings=True)</c>). null = all.
    /// </summary>
    public int? Dimensions { get; init; }

    /// <summary>Filled per input with its token count when set (one array per call).</summary>
    internal int[]? TokenCounts { get; init; }
}

/// <summary>Sentence vectors with the number of tokens each input became (special tokens included, after truncation).</summary>
/// <param name="Vectors">one vector per input, in input order.</param>
/// <param name="TokenCounts">tokens per input.</param>
public sealed record SentenceEmbeddings(IReadOnlyList<float[]> Vectors, IReadOnlyList<int> TokenCounts)
{
    /// <summary>All inputs' tokens together.</summary>
    public long TotalTokens => TokenCounts.Sum(c => (long)c);
}

/// <summary>
/// Sentence embeddings as sentence-transformers' <c>SentenceTransformer.encode</c> computes them for a BERT model:
/// the prompt prepended to each text, lower-casing when <c>do_lower_case</c>, truncation to <see cref="MaxSeqLength"/>
/// tokens, the folder's pooling (<see cref="Pooling"/> modes, concatenated when several), then L2 normalization when
/// the folder has a Normalize module. What the model folder says (<see cref="SentenceTransformerConfig"/>) decides;
/// <see cref="SentenceEmbeddingOptions"/> overrides it. <see cref="PipelineOptions.Truncation"/> = false turns the
/// truncation off (over-long inputs then fail).
/// </summary>
public class SentenceEmbeddingPipeline : Pipeline<BertModel, string, SentenceEmbeddingParameters, float[], float[]>
{
    private readonly ConcurrentDictionary<string, int> promptLengths = new(StringComparer.Ordinal);
    // include_prompt = false: the prompt length of each row this pipeline tokenized with a prompt, so that rows of
    // different calls (and prompts) can share one forward (ForwardRows) and each still leaves out its own prompt
    private readonly ConditionalWeakTable<BertEncoding, StrongBox<int>> rowPromptLengths = new();

    /// <summary>A pipeline with one pooling mode and no prompts (a folder's settings come with the other constructor or <see cref="FromPretrained"/>).</summary>
    public SentenceEmbeddingPipeline(BertModel model, BertTokenizer tokenizer, PipelineOptions? options = null,
        Pooling pooling = Pooling.Mean, bool normalize = true, int? maxSeqLength = null)
        : this(model, tokenizer, SentenceTransformerConfig.Default with { PoolingModes = [pooling], Normalize = normalize, MaxSeqLength = maxSeqLength }, options)
    {
    }

    /// <summary>A pipeline that embeds as <paramref name="config"/> says.</summary>
    public SentenceEmbeddingPipeline(BertModel model, BertTokenizer tokenizer, SentenceTransformerConfig config, PipelineOptions? options = null)
        : base(model, tokenizer, options, SentenceEmbeddingParameters.Default)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.PoolingModes.Count == 0) throw new ArgumentException("the configuration has no pooling mode");
        if (config.MaxSeqLength is < 1) throw new ArgumentException($"max_seq_length must be >= 1, got {config.MaxSeqLength}");
        if (config.WordEmbeddingDimension is { } d && d != model.Config.HiddenSize)
            throw new ArgumentException($"the pooling config says word_embedding_dimension {d} but the model's hidden_size is {model.Config.HiddenSize}");
        Config = config;
    }

    /// <summary>What decides the embeddings: the model folder's sentence-transformers settings with any overrides applied.</summary>
    public SentenceTransformerConfig Config { get; }

    /// <summary>The (first) pooling mode; <see cref="SentenceTransformerConfig.PoolingModes"/> lists all when several are concatenated.</summary>
    public Pooling Pooling => Config.PoolingModes[0];

    /// <summary>Whether vectors are L2-normalized.</summary>
    public bool Normalize => Config.Normalize;

    /// <summary>
    /// sentence-transformers' <c>max_seq_length</c>: inputs are cut to this many tokens (special tokens included).
    /// <see cref="PipelineOptions.MaxLength"/>, when given, overrides the folder's default (up to the model's limit).
    /// </summary>
    public int MaxSeqLength => Options.MaxLength ?? Math.Min(Config.MaxSeqLength ?? int.MaxValue, MaxLength);

    /// <summary>Length of the vectors (hidden size × pooling modes), before any <see cref="SentenceEmbeddingParameters.Dimensions"/> cut.</summary>
    public int EmbeddingDimension => Model.Config.HiddenSize * Config.PoolingModes.Count;

    /// <summary>
    /// Loads a model folder, <c>.onnx</c> file or Hub id (see <see cref="ModelLocator"/>) and reads its
    /// sentence-transformers files (<see cref="SentenceTransformerConfig.Read"/>); <paramref name="embedding"/> overrides them.
    /// </summary>
    public static SentenceEmbeddingPipeline FromPretrained(string path, PipelineOptions? options = null, SentenceEmbeddingOptions? embedding = null,
        PretrainedOptions? modelOptions = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var revision = options?.Revision ?? modelOptions?.Revision;
        var local = (options?.Locator ?? ModelLocator.Default).Resolve(path, revision, ModelFolderFiles.WithSentenceTransformers());
        var config = SentenceTransformerConfig.Read(Directory.Exists(local) || File.Exists(local) ? local : path);
        if (embedding is not null) config = embedding.ApplyTo(config);
        return PipelineLoading.Load(local, options, modelOptions, BertModel.FromPretrained,
            (m, t) => new SentenceEmbeddingPipeline(m, t, config, options));
    }

    /// <inheritdoc/>
    public override string TaskName => "sentence-embedding";

    /// <summary>Embeds <paramref name="texts"/> and counts their tokens; checks <paramref name="cancellationToken"/> between batches.</summary>
    public SentenceEmbeddings Embed(IReadOnlyList<string> texts, SentenceEmbeddingParameters? parameters = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var counts = new int[texts.Count];
        var vectors = Run(texts, (parameters ?? DefaultParameters) with { TokenCounts = counts }, cancellationToken);
        return new SentenceEmbeddings(vectors, counts);
    }

    /// <inheritdoc/>
    protected override void Validate(SentenceEmbeddingParameters parameters)
    {
        if (parameters.Dimensions is { } d && (d < 1 || d > EmbeddingDimension))
            throw new ArgumentException(d < 1
                ? $"dimensions must be >= 1, got {d}"
                : $"dimensions {d} is more than the model's {EmbeddingDimension}");
        Config.ResolvePrompt(parameters.PromptName, parameters.Prompt);          // an unknown prompt name fails before any work
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string text, int index, SentenceEmbeddingParameters parameters)
    {
        var prompt = Config.ResolvePrompt(parameters.PromptName, parameters.Prompt);
        return [WithPrompt(Encode(Clean(prompt + text), truncateByDefault: true, maxLength: MaxSeqLength), prompt)];
    }

    /// <summary>
    /// Serving step 1 with the caller's tokenization: <paramref name="text"/> → its row as <c>Run</c> makes it (the
    /// call's prompt prepended, stripped, lower-cased when <c>do_lower_case</c>), tokenized with
    /// <paramref name="encodeOptions"/> (its truncation, side and length) instead of the pipeline's. With
    /// <c>include_prompt = false</c> the row remembers its prompt's length, so <see cref="Pipeline{TModel, TInput, TParams, TRow, TResult}.ForwardRows"/>
    /// leaves that prompt out of the pooling even when the batch mixes rows of other calls and prompts.
    /// </summary>
    /// <exception cref="ArgumentException">an unknown prompt name (names the model's prompts) or bad dimensions.</exception>
    public BertEncoding Prepare(string text, SentenceEmbeddingParameters? parameters, EncodeOptions encodeOptions)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(encodeOptions);
        var p = parameters ?? DefaultParameters;
        Validate(p);
        var prompt = Config.ResolvePrompt(p.PromptName, p.Prompt);
        return WithPrompt(Tokenizer.Encode(Clean(prompt + text), null, encodeOptions), prompt);
    }

    /// <summary>Records <paramref name="row"/>'s prompt length when the pooling leaves the prompt out.</summary>
    private BertEncoding WithPrompt(BertEncoding row, string? prompt)
    {
        if (!Config.IncludePrompt && prompt is { Length: > 0 })
            rowPromptLengths.AddOrUpdate(row, new StrongBox<int>(PromptLength(prompt)));
        return row;
    }

    /// <summary>sentence-transformers' Transformer.tokenize: strip, then lower-case when <c>do_lower_case</c>.</summary>
    private string Clean(string text)
    {
        text = text.Trim();
        return Config.DoLowerCase ? text.ToLowerInvariant() : text;
    }

    /// <summary>encode's <c>prompt_length</c>: the prompt's tokens with [CLS], without the final [SEP].</summary>
    private int PromptLength(string prompt) =>
        promptLengths.GetOrAdd(prompt, p => Encode(Clean(p), truncateByDefault: true, maxLength: MaxSeqLength).Length - 1);

    /// <inheritdoc/>
    protected override IReadOnlyList<float[]> Forward(ModelInputs inputs, SentenceEmbeddingParameters parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "last_hidden_state", output.LastHiddenState);
        var hidden = output.LastHiddenState.to(ScalarType.Float32);                       // (B, T, H)
        var mask = inputs.AttentionMask;                                                  // (B, T)
        var t = hidden.shape[1];
        if (!Config.IncludePrompt)
        {
            // attention_mask[:, :prompt_length] = 0, with each row's own prompt (rows of several calls can share a batch)
            var starts = inputs.Encoding.Encodings.Select(e => rowPromptLengths.TryGetValue(e, out var n) ? (long)n.Value : 0L).ToArray();
            if (starts.Any(n => n > 0))
                mask = mask * (KeptScalars.Arange(0, t, mask.device).unsqueeze(0) >= tensor(starts, device: mask.device).unsqueeze(1)).to(mask.dtype);
        }
        var pooled = cat(Config.PoolingModes.Select(m => Pool(m, hidden, mask)).ToArray(), 1);   // (B, H × modes)
        if (parameters.Dimensions is { } d && d < pooled.shape[1]) pooled = pooled[.., ..d];   // truncate_dim
        if (Normalize) pooled = nn.functional.normalize(pooled, p: 2, dim: 1);
        Trace("postprocess", $"{Config.PoolingName} pooled{(Normalize ? ", normalized" : "")}", pooled);
        var h = (int)pooled.shape[1];
        var all = pooled.cpu().data<float>().ToArray();
        return Enumerable.Range(0, (int)pooled.shape[0]).Select(b => all.AsSpan(b * h, h).ToArray()).ToList();
    }

    /// <summary>One pooling mode, as sentence-transformers' <c>Pooling.forward</c> computes it: (B, T, H) → (B, H).</summary>
    private static Tensor Pool(Pooling mode, Tensor hidden, Tensor mask)
    {
        var m = mask.unsqueeze(-1).to(hidden.dtype).expand_as(hidden);                    // input_mask_expanded
        switch (mode)
        {
            case Pooling.Cls:
                return hidden.select(1, 0);
            case Pooling.Max:
                return KeptScalars.With(-1e9, fill => hidden.masked_fill(m.eq(KeptScalars.Zero), fill)).max(1).values;
            case Pooling.Mean:
            case Pooling.MeanSqrtLen:
            {
                var sum = (hidden * m).sum(1);
                var count = KeptScalars.With(1e-9, m.sum(1).clamp_min);
                return mode == Pooling.Mean ? sum / count : sum / count.sqrt();
            }
            case Pooling.WeightedMean:
            {
                var weights = KeptScalars.Arange(1, hidden.shape[1] + 1, hidden.device, hidden.dtype).unsqueeze(0).unsqueeze(-1);
                var w = m * weights;
                return (hidden * w).sum(1) / KeptScalars.With(1e-9, w.sum(1).clamp_min);
            }
            case Pooling.LastToken:
            {
                // the last attended position: the first 0 of the mask minus one (the whole row when it has none)
                var (values, indices) = mask.min(1);
                var last = where(values.eq(KeptScalars.Zero), indices, KeptScalars.With(hidden.shape[1], n => full_like(indices, n))).sub(KeptScalars.One);
                var index = last.clamp_min(KeptScalars.Zero).view(-1, 1, 1).expand(-1, 1, hidden.shape[2]);
                return (hidden * m).gather(1, index).squeeze(1);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown pooling mode");
        }
    }

    /// <inheritdoc/>
    protected override float[] Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<float[]> rows, SentenceEmbeddingParameters parameters)
    {
        if (parameters.TokenCounts is { } counts) counts[chunks[0].Input] = chunks[0].Encoding.Length;
        return rows[0];
    }
}
