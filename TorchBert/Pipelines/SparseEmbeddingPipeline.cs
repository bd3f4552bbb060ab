using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Pipelines;

/// <summary>One non-zero entry of a sparse (vocabulary-sized) embedding: TEI's <c>{"index", "value"}</c>.</summary>
/// <param name="Index">the vocabulary id.</param>
/// <param name="Value">its weight (&gt; 0).</param>
public readonly record struct SparseValue(int Index, float Value);

/// <summary>
/// SPLADE sparse embeddings on an MLM head (TEI's <c>splade</c> pooling, sentence-transformers' <c>SpladePooling</c>
/// with max): per input, the max over its tokens of log(1 + relu(MLM logits)), padding masked, as the non-zero
/// (vocabulary id, weight) pairs in id order. Inputs are truncated to the model's limit unless
/// <see cref="PipelineOptions.Truncation"/> is false.
/// </summary>
public class SparseEmbeddingPipeline(BertForMaskedLM model, BertTokenizer tokenizer, PipelineOptions? options = null)
    : Pipeline<BertForMaskedLM, string, NoParameters, SparseValue[], SparseValue[]>(model, tokenizer, options, NoParameters.Instance)
{
    /// <summary>Loads an MLM checkpoint (a SPLADE model such as naver/splade-v3) and its tokenizer.</summary>
    public static SparseEmbeddingPipeline FromPretrained(string path, PipelineOptions? options = null, PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertForMaskedLM.FromPretrained, (m, t) => new SparseEmbeddingPipeline(m, t, options));

    /// <inheritdoc/>
    public override string TaskName => "sparse-embedding";

    /// <inheritdoc/>
    protected override string? HeadName => "MLM head";

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string text, int index, NoParameters parameters) => [Encode(text, truncateByDefault: true)];

    /// <inheritdoc/>
    protected override IReadOnlyList<SparseValue[]> Forward(ModelInputs inputs, NoParameters parameters)
    {
        var logits = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true).Logits.to(ScalarType.Float32); // (B, T, V)
        Trace("forward", "logits", logits);
        var weights = logits.relu().log1p() * inputs.AttentionMask.unsqueeze(-1).to(ScalarType.Float32);
        var pooled = weights.amax(1).cpu();                                              // (B, V); weights are >= 0, masked rows 0
        Trace("postprocess", "splade max pooled", pooled);
        var v = (int)pooled.shape[1];
        var all = pooled.data<float>().ToArray();
        var rows = new List<SparseValue[]>();
        for (int b = 0; b < (int)pooled.shape[0]; b++)
        {
            var row = new List<SparseValue>();
            for (int j = 0; j < v; j++)
                if (all[b * v + j] > 0) row.Add(new SparseValue(j, all[b * v + j]));
            rows.Add([.. row]);
        }
        return rows;
    }

    /// <inheritdoc/>
    protected override SparseValue[] Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<SparseValue[]> rows, NoParameters parameters) => rows[0];
}
