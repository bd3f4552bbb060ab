using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Serving;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Server;

/// <summary>What a served model does (TEI's <c>model_type</c>, plus the tasks TEI lacks).</summary>
public enum ModelKind { Embedding, Classifier, Reranker, Splade, TokenClassification, QuestionAnswering }

/// <summary>
/// One loaded model with its tokenizer, the library pipelines over it (sharing the one model instance), a runner per
/// pipeline, and its <see cref="InferenceQueue"/>. Disposing closes the queue (finishing what is queued) and frees the model.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly BertPreTrainedModel model;

    private ServedModel(string name, string id, BertPreTrainedModel model, BertTokenizer tokenizer, ModelKind kind)
    {
        Name = name;
        Id = id;
        this.model = model;
        Tokenizer = tokenizer;
        Kind = kind;
    }

    /// <summary>The name requests use (<c>model</c>).</summary>
    public string Name { get; }
    /// <summary>Hub id or path it was loaded from (/info's <c>model_id</c>).</summary>
    public string Id { get; }
    public ModelKind Kind { get; }
    public BertTokenizer Tokenizer { get; }
    /// <summary>Longest input in tokens (special tokens included): sentence-transformers' max_seq_length or the model's limit.</summary>
    public int MaxInputLength { get; private set; }
    /// <summary>Pooling of an embedding model (cls, mean, splade); null otherwise.</summary>
    public string? Pooling { get; private set; }
    /// <summary>HF's name of the parameter dtype (<see cref="DTypeNames"/>), e.g. bfloat16.</summary>
    public string DType => DTypeNames.Name(model.DType);
    /// <summary>cpu or cuda (the x-compute-type header).</summary>
    public string DeviceType => model.Device.type.ToString().ToLowerInvariant();
    public IReadOnlyDictionary<int, string> Id2Label => model.Config.Id2Label;
    public IReadOnlyDictionary<string, int> Label2Id => model.Config.Label2Id;
    /// <summary>sentence-transformers prompts (<c>config_sentence_transformers.json</c>).</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; private set; } = new Dictionary<string, string>();
    /// <summary>The prompt used when a request names none.</summary>
    public string? DefaultPromptName { get; private set; }

    public SentenceEmbeddingPipeline? Embedder { get; private set; }
    public FeatureExtractionPipeline? TokenEmbedder { get; private set; }
    public SparseEmbeddingPipeline? Sparse { get; private set; }
    public TextClassificationPipeline? Classifier { get; private set; }
    public ZeroShotClassificationPipeline? ZeroShot { get; private set; }
    public TokenClassificationPipeline? Ner { get; private set; }
    public QuestionAnsweringPipeline? Qa { get; private set; }

    internal IRowRunner? EmbedRunner { get; private set; }
    internal IRowRunner? EmbedAllRunner { get; private set; }
    internal IRowRunner? SparseRunner { get; private set; }
    internal IRowRunner? ClassifyRunner { get; private set; }
    internal IRowRunner? ZeroShotRunner { get; private set; }
    internal IRowRunner? NerRunner { get; private set; }
    internal IRowRunner? QaRunner { get; private set; }

    /// <summary>The model's queue and inference worker.</summary>
    public InferenceQueue Queue { get; private set; } = null!;

    /// <summary>TEI's <c>model_type</c> key: embedding, classifier or reranker (SPLADE is an embedding model).</summary>
    public string TeiModelType => Kind switch
    {
        ModelKind.Classifier or ModelKind.TokenClassification or ModelKind.QuestionAnswering => "classifier",
        ModelKind.Reranker => "reranker",
        _ => "embedding",
    };

    /// <summary>
    /// Loads <paramref name="spec"/> (the embedded default when its source is null) with the server's device, dtype
    /// and pooling, builds its pipelines and starts its queue. Throws one-line exceptions when it cannot.
    /// </summary>
    public static ServedModel Load(ModelSpec spec, ServerOptions options, ILogger? log = null)
    {
        NativeRuntime.EnsureLoaded();
        string path, id;
        if (spec.Source is null || (ModelLocator.IsEmbedded(spec.Source) && options.Revision is null))
        {
            path = DefaultModel.EnsureInstalled(log);
            id = DefaultModel.HubId;
        }
        else
        {
            path = ModelLocator.Default.Resolve(spec.Source, options.Revision);
            id = spec.Source;
        }
        var name = spec.Name ?? (spec == options.Models.FirstOrDefault() || options.Models.Count == 0 ? options.ServedModelName : null) ?? id;
        var modelOptions = new PretrainedOptions { Device = ParseDevice(options.Device), DType = options.ParseDType() };
        var pipelineOptions = new PipelineOptions { Device = modelOptions.Device, DType = modelOptions.DType };
        var loaded = BertAutoModel.FromPretrained(path, modelOptions);
        BertTokenizer tokenizer;
        try { tokenizer = TokenizerLoader.ForModel(path); }
        catch { loaded.Dispose(); throw; }
        if (options.Pooling == "splade" && loaded is not BertForMaskedLM)
        {
            loaded.Dispose();
            throw new ArgumentException($"{id}: --pooling splade needs a model with an MLM head (BertForMaskedLM), got {loaded.GetType().Name}");
        }
        if (loaded is not (BertForSequenceClassification or BertForTokenClassification or BertForQuestionAnswering or BertModel)
            && !(loaded is BertForMaskedLM && options.Pooling == "splade"))
        {
            // Any other head: serve its encoder as an embedding model (TEI does the same with MLM checkpoints).
            loaded.Dispose();
            loaded = BertModel.FromPretrained(path, modelOptions);
        }
        ServedModel? served = null;
        try
        {
            // Not TaskTable: what a model serves here is TEI's model_type (a one-label classifier is a re-ranker, an
            // entailment label adds zero-shot, an MLM head is SPLADE or an encoder), with several pipelines sharing this
            // one loaded model; TaskDescriptor.CreatePipeline loads its own model from a path, one pipeline per task.
            served = loaded switch
            {
                BertForSequenceClassification sc => ForClassifier(name, id, sc, tokenizer, pipelineOptions),
                BertForTokenClassification tc => ForNer(name, id, tc, tokenizer, pipelineOptions),
                BertForQuestionAnswering qa => ForQa(name, id, qa, tokenizer, pipelineOptions),
                BertForMaskedLM mlm => ForSplade(name, id, mlm, tokenizer, pipelineOptions),
                BertModel bm => ForEmbedding(name, id, bm, tokenizer, pipelineOptions, path, options.Pooling, options.DefaultPromptName),
                _ => throw new InvalidOperationException($"unexpected model class {loaded.GetType().Name}"),
            };
            served.ReadPrompts(path, options.DefaultPromptName);
            log?.LogInformation("Loaded {Model} as {Kind} ({Path}), max input {MaxInput} tokens, dtype {DType}", id, served.Kind, path, served.MaxInputLength, served.DType);
            return served;
        }
        catch
        {
            if (served is not null) served.Dispose(); else loaded.Dispose();
            throw;
        }
    }

    private static ServedModel ForEmbedding(string name, string id, BertModel m, BertTokenizer t, PipelineOptions o, string path, string? pooling, string? defaultPromptName)
    {
        // the folder's sentence-transformers files decide (SentenceTransformerConfig): prompts, include_prompt,
        // do_lower_case, max_seq_length; --pooling and --default-prompt-name override; the server normalizes per request
        var folder = SentenceTransformerConfig.Read(path);
        var config = new SentenceEmbeddingOptions
        {
            Pooling = pooling is null ? null : SentenceTransformerConfig.ParsePooling(pooling) ?? Configuration.Pooling.Mean,
            Normalize = false,
            // an unknown name is refused later with TEI's message (ReadPrompts)
            DefaultPromptName = defaultPromptName is not null && folder.Prompts.ContainsKey(defaultPromptName) ? defaultPromptName : null,
        }.ApplyTo(folder);
        var pool = pooling ?? folder.PoolingName;
        var s = new ServedModel(name, id, m, t, ModelKind.Embedding) { Pooling = pool };
        s.Embedder = new SentenceEmbeddingPipeline(m, t, config, o);
        s.TokenEmbedder = new FeatureExtractionPipeline(m, t, o);
        s.MaxInputLength = s.Embedder.MaxSeqLength;
        s.EmbedRunner = new RowRunner<float[]>(rows => s.Embedder.ForwardRows(rows));
        s.EmbedAllRunner = new RowRunner<float[][]>(rows => s.TokenEmbedder.ForwardRows(rows));
        return s;
    }

    private static ServedModel ForSplade(string name, string id, BertForMaskedLM m, BertTokenizer t, PipelineOptions o)
    {
        var s = new ServedModel(name, id, m, t, ModelKind.Splade) { Pooling = "splade" };
        s.Sparse = new SparseEmbeddingPipeline(m, t, o);
        s.MaxInputLength = s.Sparse.MaxLength;
        s.SparseRunner = new RowRunner<SparseValue[]>(rows => s.Sparse.ForwardRows(rows));
        return s;
    }

    private static ServedModel ForClassifier(string name, string id, BertForSequenceClassification m, BertTokenizer t, PipelineOptions o)
    {
        var s = new ServedModel(name, id, m, t, m.Config.NumLabels == 1 ? ModelKind.Reranker : ModelKind.Classifier);
        s.Classifier = new TextClassificationPipeline(m, t, o, new TextClassificationParams { TopK = null });
        s.MaxInputLength = s.Classifier.MaxLength;
        s.ClassifyRunner = new RowRunner<float[]>(rows => s.Classifier.ForwardRows(rows));
        if (m.Config.Label2Id.Keys.Any(k => k.StartsWith("entail", StringComparison.OrdinalIgnoreCase)))
        {
            s.ZeroShot = new ZeroShotClassificationPipeline(m, t, o);
            s.ZeroShotRunner = new RowRunner<float[]>(rows => s.ZeroShot.ForwardRows(rows));
        }
        return s;
    }

    private static ServedModel ForNer(string name, string id, BertForTokenClassification m, BertTokenizer t, PipelineOptions o)
    {
        var s = new ServedModel(name, id, m, t, ModelKind.TokenClassification);
        s.Ner = new TokenClassificationPipeline(m, t, o);
        s.MaxInputLength = s.Ner.MaxLength;
        s.NerRunner = new RowRunner<float[][]>(rows => s.Ner.ForwardRows(rows));
        return s;
    }

    private static ServedModel ForQa(string name, string id, BertForQuestionAnswering m, BertTokenizer t, PipelineOptions o)
    {
        var s = new ServedModel(name, id, m, t, ModelKind.QuestionAnswering);
        s.Qa = new QuestionAnsweringPipeline(m, t, o);
        s.MaxInputLength = s.Qa.MaxLength;
        s.QaRunner = new RowRunner<QuestionAnsweringPipeline.Row>(rows => s.Qa.ForwardRows(rows));
        return s;
    }

    private void ReadPrompts(string path, string? defaultPromptName)
    {
        // the folder's config_sentence_transformers.json, as the library reads it; TEI's messages for a bad default
        var st = SentenceTransformerConfig.Read(path);
        var prompts = st.Prompts;
        var fileDefault = st.DefaultPromptName;
        Prompts = prompts;
        DefaultPromptName = defaultPromptName ?? fileDefault;
        if (defaultPromptName is not null && !prompts.ContainsKey(defaultPromptName))
            throw new ArgumentException(prompts.Count == 0
                ? $"`default-prompt-name` is set to `{defaultPromptName}` but no prompts were found in the Sentence Transformers configuration"
                : $"`default-prompt-name` is set to `{defaultPromptName}` but it was not found in the Sentence Transformers prompts. Available prompts: {string.Join(", ", prompts.Keys)}");
    }

    /// <summary>The prompt text for <paramref name="promptName"/> (or the default prompt); a Validation error when unknown.</summary>
    internal string? PromptText(string? promptName)
    {
        var name = promptName ?? DefaultPromptName;
        if (name is null) return null;
        if (Prompts.TryGetValue(name, out var text)) return text;
        throw new ApiException(ErrorKind.Validation, Prompts.Count == 0
            ? $"`prompt_name` is set to `{name}` but no prompts were found in the Sentence Transformers configuration"
            : $"`prompt_name` is set to `{name}` but it was not found in the Sentence Transformers prompts. Available prompts: {string.Join(", ", Prompts.Keys)}");
    }

    /// <summary>
    /// Tokenizes one input as TEI does: special tokens added, truncated to <see cref="MaxInputLength"/> when
    /// <paramref name="truncate"/> (on the left when <paramref name="left"/>), else a Validation error when too long.
    /// </summary>
    internal BertEncoding Encode(string text, string? pair, bool truncate, bool left) =>
        CheckLength(Tokenizer.Encode(text, pair, EncodeOptions(truncate, left)));

    /// <summary>
    /// One embedding input, tokenized as the library's <see cref="SentenceEmbeddingPipeline"/> (and sentence-transformers)
    /// does: the prompt <paramref name="promptName"/> names (or the default prompt) prepended, stripped, lower-cased when
    /// the folder says <c>do_lower_case</c>; with <c>include_prompt = false</c> the row leaves its own prompt out of the
    /// pooling. Truncation as <see cref="Encode"/>. Needs <see cref="Embedder"/>.
    /// </summary>
    internal BertEncoding EncodeForEmbedding(string text, string? promptName, bool truncate, bool left)
    {
        PromptText(promptName);                                                    // an unknown name: TEI's message
        return CheckLength(Embedder!.Prepare(text, new SentenceEmbeddingParameters { PromptName = promptName }, EncodeOptions(truncate, left)));
    }

    private EncodeOptions EncodeOptions(bool truncate, bool left) => new()
    {
        Truncation = truncate ? TruncationStrategy.LongestFirst : TruncationStrategy.None,
        MaxLength = truncate ? MaxInputLength : null,
        TruncationSide = left ? TruncationSide.Left : TruncationSide.Right,   // pairs: longest-first lengths, each keeps its tail
    };

    private BertEncoding CheckLength(BertEncoding e) => e.Length > MaxInputLength
        ? throw new ApiException(ErrorKind.Validation, $"`inputs` must have less than {MaxInputLength} tokens. Given: {e.Length}")
        : e;

    /// <summary>Token ids given as input (TEI's <c>inputs: [u32]</c>): taken as they are; too long is an error, or cut when truncating.</summary>
    internal BertEncoding EncodeIds(IReadOnlyList<long> ids, bool truncate, bool left)
    {
        if (ids.Count > MaxInputLength)
        {
            if (!truncate) throw new ApiException(ErrorKind.Validation, $"`inputs` must have less than {MaxInputLength} tokens. Given: {ids.Count}");
            ids = left ? ids.Skip(ids.Count - MaxInputLength).ToList() : ids.Take(MaxInputLength).ToList();
        }
        try { return Tokenizer.EncodeIds(ids); }
        catch (ArgumentException e) { throw new ApiException(ErrorKind.Validation, e.Message); }
    }

    private static Device? ParseDevice(string? device) => device switch
    {
        null => null,
        _ => TorchSharp.torch.device(device),
    };

    /// <summary>Starts the model's queue and inference worker.</summary>
    public void Start(BatchingOptions batching, IQueueObserver? observer)
    {
        if (Queue is not null) throw new InvalidOperationException($"{Name} is already started");
        Queue = new InferenceQueue(Name, batching, observer);
    }

    /// <summary>The runner of the model's natural route, and one row to prove it works.</summary>
    internal (IRowRunner Runner, BertEncoding Row) WarmUpProbe()
    {
        var row = Tokenizer.Encode("warm up", Kind is ModelKind.Reranker or ModelKind.QuestionAnswering ? "warm up" : null);
        var runner = Kind switch
        {
            ModelKind.Embedding => EmbedRunner,
            ModelKind.Splade => SparseRunner,
            ModelKind.Classifier or ModelKind.Reranker => ClassifyRunner,
            ModelKind.TokenClassification => NerRunner,
            _ => QaRunner,
        };
        return (runner!, row);
    }

    /// <summary>Closes the queue (what is queued still runs), then frees the model.</summary>
    public void Dispose()
    {
        Queue?.Dispose();
        model.Dispose();
    }
}
