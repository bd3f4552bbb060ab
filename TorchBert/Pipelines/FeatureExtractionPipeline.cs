using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Pipelines;

/// <summary>
/// Port of HF <c>FeatureExtractionPipeline</c>: per input, the last hidden state of each of its tokens
/// (special tokens included, padding excluded), as a (tokens × hidden) array.
/// </summary>
public class FeatureExtractionPipeline(BertModel model, BertTokenizer tokenizer, PipelineOptions? options = null)
    : Pipeline<BertModel, BertModelOutput, float[][]>(model, tokenizer, options)
{
    public static FeatureExtractionPipeline FromPretrained(string path, PipelineOptions? options = null)
    {
        var model = BertModel.FromPretrained(path, new PretrainedOptions { Device = options?.Device, Revision = options?.Revision, DType = options?.DType });
        try { return new FeatureExtractionPipeline(model, TokenizerLoader.ForModel(path, options?.Revision), options); }
        catch { model.Dispose(); throw; }
    }

    protected override BertModelOutput Forward(ModelInputs inputs)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "last_hidden_state", output.LastHiddenState);
        return output;
    }

    protected override IReadOnlyList<float[][]> Postprocess(ModelInputs inputs, BertModelOutput outputs)
    {
        var hidden = outputs.LastHiddenState.to(ScalarType.Float32).cpu();                 // (B, T, H)
        var h = (int)hidden.shape[2];
        var all = hidden.data<float>().ToArray();
        var t = (int)hidden.shape[1];
        return inputs.Encoding.AttentionMask.Select((mask, b) =>
            Enumerable.Range(0, mask.Count(m => m != 0))
                .Select(j => all.AsSpan((b * t + j) * h, h).ToArray()).ToArray()).ToList();
    }
}

/// <summary>How token embeddings become one sentence vector.</summary>
public enum Pooling { Mean, Cls }

/// <summary>
/// Sentence embeddings (sentence-transformers semantics): mean pooling over attended tokens (or the [CLS] vector),
/// optionally L2-normalised. all-MiniLM-L6-v2 is trained for mean pooling + normalisation.
/// </summary>
public class SentenceEmbeddingPipeline(BertModel model, BertTokenizer tokenizer, PipelineOptions? options = null,
    Pooling pooling = Pooling.Mean, bool normalize = true)
    : Pipeline<BertModel, BertModelOutput, float[]>(model, tokenizer, options)
{
    public Pooling Pooling { get; } = pooling;
    public bool Normalize { get; } = normalize;

    public static SentenceEmbeddingPipeline FromPretrained(string path, PipelineOptions? options = null, Pooling pooling = Pooling.Mean, bool normalize = true)
    {
        var model = BertModel.FromPretrained(path, new PretrainedOptions { Device = options?.Device, Revision = options?.Revision, DType = options?.DType });
        try { return new SentenceEmbeddingPipeline(model, TokenizerLoader.ForModel(path, options?.Revision), options, pooling, normalize); }
        catch { model.Dispose(); throw; }
    }

    protected override BertModelOutput Forward(ModelInputs inputs)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "last_hidden_state", output.LastHiddenState);
        return output;
    }

    protected override IReadOnlyList<float[]> Postprocess(ModelInputs inputs, BertModelOutput outputs)
    {
        var hidden = outputs.LastHiddenState.to(ScalarType.Float32);                      // (B, T, H)
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
}

/// <summary>Cosine similarity of embeddings.</summary>
public static class Similarity
{
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
