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
