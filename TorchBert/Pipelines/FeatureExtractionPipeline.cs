using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Pipelines;

/// <summary>Per-call options of pipelines that have none.</summary>
public sealed record NoParameters
{
    /// <summary>The single instance.</summary>
    public static NoParameters Instance { get; } = new();
}

/// <summary>
/// Port of HF <c>FeatureExtractionPipeline</c>: per input, the last hidden state of each of its tokens
/// (special tokens included, padding excluded), as a (tokens × hidden) array. No truncation unless asked (HF's default).
/// </summary>
public class FeatureExtractionPipeline(BertModel model, BertTokenizer tokenizer, PipelineOptions? options = null)
    : Pipeline<BertModel, string, NoParameters, float[][], float[][]>(model, tokenizer, options, NoParameters.Instance)
{
    /// <summary>Loads the model folder or Hub id <paramref name="path"/> and its tokenizer.</summary>
    public static FeatureExtractionPipeline FromPretrained(string path, PipelineOptions? options = null, PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertModel.FromPretrained, (m, t) => new FeatureExtractionPipeline(m, t, options));

    /// <inheritdoc/>
    public override string TaskName => "feature-extraction";

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string text, int index, NoParameters parameters) => [Encode(text)];

    /// <inheritdoc/>
    protected override IReadOnlyList<float[][]> Forward(ModelInputs inputs, NoParameters parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "last_hidden_state", output.LastHiddenState);
        var hidden = output.LastHiddenState.to(ScalarType.Float32).cpu();                 // (B, T, H)
        var h = (int)hidden.shape[2];
        var all = hidden.data<float>().ToArray();
        var t = (int)hidden.shape[1];
        return inputs.Encoding.AttentionMask.Select((mask, b) =>
            Enumerable.Range(0, mask.Count(m => m != 0))
                .Select(j => all.AsSpan((b * t + j) * h, h).ToArray()).ToArray()).ToList();
    }

    /// <inheritdoc/>
    protected override float[][] Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<float[][]> rows, NoParameters parameters) => rows[0];
}

/// <summary>How token embeddings become one sentence vector.</summary>
/// <summary>How token vectors become one sentence vector.</summary>
public enum Pooling
{
    /// <summary>Mean of the token vectors under the attention mask.</summary>
    Mean,
    /// <summary>The [CLS] token's vector.</summary>
    Cls,
}

/// <summary>
/// Sentence embeddings (sentence-transformers semantics): mean pooling over attended tokens (or the [CLS] vector),
/// optionally L2-normalised. all-MiniLM-L6-v2 is trained for mean pooling + normalisation.
/// Inputs are truncated as sentence-transformers' <c>encode</c> does: to <see cref="MaxSeqLength"/> tokens
/// (<c>max_seq_length</c> of <c>sentence_bert_config.json</c> when the folder has one, else the model's limit);
/// <see cref="PipelineOptions.Truncation"/> = false turns that off (over-long inputs then fail).
/// </summary>
public class SentenceEmbeddingPipeline(BertModel model, BertTokenizer tokenizer, PipelineOptions? options = null,
    Pooling pooling = Pooling.Mean, bool normalize = true, int? maxSeqLength = null)
    : Pipeline<BertModel, string, NoParameters, float[], float[]>(model, tokenizer, options, NoParameters.Instance)
{
    /// <summary>The pooling in effect.</summary>
    public Pooling Pooling { get; } = pooling;
    /// <summary>Whether vectors are L2-normalized.</summary>
    public bool Normalize { get; } = normalize;

    /// <summary>sentence-transformers' <c>max_seq_length</c>: inputs are cut to this many tokens (special tokens included).</summary>
    public int MaxSeqLength => Math.Min(maxSeqLength ?? int.MaxValue, MaxLength);

    /// <summary>Loads the model folder or Hub id <paramref name="path"/> and its tokenizer, with the given pooling and normalization.</summary>
    public static SentenceEmbeddingPipeline FromPretrained(string path, PipelineOptions? options = null, Pooling pooling = Pooling.Mean, bool normalize = true,
        PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertModel.FromPretrained,
            (m, t) => new SentenceEmbeddingPipeline(m, t, options, pooling, normalize, SentenceTransformersConfig.MaxSeqLength(path)));

    /// <inheritdoc/>
    public override string TaskName => "sentence-embedding";

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string text, int index, NoParameters parameters) =>
        [Encode(text, truncateByDefault: true, maxLength: MaxSeqLength)];

    /// <inheritdoc/>
    protected override IReadOnlyList<float[]> Forward(ModelInputs inputs, NoParameters parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "last_hidden_state", output.LastHiddenState);
        var hidden = output.LastHiddenState.to(ScalarType.Float32);                       // (B, T, H)
        Tensor pooled;
        if (Pooling == Pooling.Cls) pooled = hidden.select(1, 0);                         // (B, H)
        else
        {
            var mask = inputs.AttentionMask.unsqueeze(-1).to(ScalarType.Float32);          // (B, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9);                // (B, H)
        }
        if (Normalize) pooled = nn.functional.normalize(pooled, p: 2, dim: 1);
        Trace("postprocess", $"{Pooling.ToString().ToLowerInvariant()} pooled{(Normalize ? ", normalized" : "")}", pooled);
        var h = (int)pooled.shape[1];
        var all = pooled.cpu().data<float>().ToArray();
        return Enumerable.Range(0, (int)pooled.shape[0]).Select(b => all.AsSpan(b * h, h).ToArray()).ToList();
    }

    /// <inheritdoc/>
    protected override float[] Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<float[]> rows, NoParameters parameters) => rows[0];
}

/// <summary>sentence-transformers' <c>sentence_bert_config.json</c>.</summary>
public static class SentenceTransformersConfig
{
    /// <summary>The file name.</summary>
    public const string FileName = "sentence_bert_config.json";

    /// <summary><c>max_seq_length</c> of the model folder's <c>sentence_bert_config.json</c>; null when there is none.</summary>
    public static int? MaxSeqLength(string modelPath)
    {
        var folder = File.Exists(modelPath) ? Path.GetDirectoryName(Path.GetFullPath(modelPath))! : modelPath;
        var file = Path.Combine(folder, FileName);
        if (!File.Exists(file)) return null;
        try
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(file));
            if (node?["max_seq_length"] is not { } v) return null;
            var n = v.GetValue<int>();
            return n > 0 ? n : throw new ArgumentException($"{file}: max_seq_length must be > 0, got {n}");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            throw new ArgumentException($"{file}: not a valid sentence-transformers config ({e.Message})");
        }
    }
}

/// <summary>Cosine similarity of embeddings.</summary>
public static class Similarity
{
    /// <summary>Cosine similarity of two vectors (0 when either is all zeros).</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors differ in length ({a.Length} vs {b.Length})");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    /// <summary>n × n matrix of pairwise cosine similarities.</summary>
    public static double[][] Matrix(IReadOnlyList<float[]> vectors) =>
        vectors.Select(a => vectors.Select(b => Cosine(a, b)).ToArray()).ToArray();
}
