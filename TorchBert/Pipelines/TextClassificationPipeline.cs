using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;

namespace TorchBert.Pipelines;

/// <summary>HF <c>ClassificationFunction</c>: what turns logits into scores.</summary>
/// <summary>The function applied to the logits (HF's <c>function_to_apply</c>).</summary>
public enum ClassificationFunction
{
    /// <summary>Independent sigmoid per label (multi-label, or a single logit).</summary>
    Sigmoid,
    /// <summary>Softmax over the labels.</summary>
    Softmax,
    /// <summary>The raw logits.</summary>
    None,
}

/// <summary>One label and its score (HF's <c>{"label": ..., "score": ...}</c>).</summary>
public sealed record LabelScore(string Label, double Score);

/// <summary>Per-call options of <see cref="TextClassificationPipeline"/>.</summary>
public sealed record TextClassificationParams
{
    /// <summary>HF <c>top_k</c>: labels returned, best first; null = all labels. Default 1 (the best label).</summary>
    public int? TopK { get; init; } = 1;
    /// <summary>HF <c>function_to_apply</c>; null = HF's default: none for regression, sigmoid for multi-label or one label, softmax otherwise.</summary>
    public ClassificationFunction? Function { get; init; }
}

/// <summary>
/// Port of HF <c>TextClassificationPipeline</c>: a text (or text pair) → labels from <c>id2label</c> with scores,
/// best first (<see cref="TextClassificationParams.TopK"/>). Inputs longer than the model fail unless
/// <see cref="PipelineOptions.Truncation"/> (HF passes no truncation by default).
/// </summary>
public class TextClassificationPipeline(BertForSequenceClassification model, BertTokenizer tokenizer, PipelineOptions? options = null,
    TextClassificationParams? defaults = null)
    : Pipeline<BertForSequenceClassification, TextPair, TextClassificationParams, float[], IReadOnlyList<LabelScore>>(model, tokenizer, options, defaults ?? new())
{
    /// <summary>Loads the model folder or Hub id <paramref name="path"/> and its tokenizer.</summary>
    public static TextClassificationPipeline FromPretrained(string path, PipelineOptions? options = null, PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertForSequenceClassification.FromPretrained, (m, t) => new TextClassificationPipeline(m, t, options));

    /// <inheritdoc/>
    public override string TaskName => "text-classification";

    /// <summary>Several single texts.</summary>
    public IReadOnlyList<IReadOnlyList<LabelScore>> Run(IReadOnlyList<string> texts, TextClassificationParams? parameters = null) =>
        Run(texts.Select(t => new TextPair(t)).ToList(), parameters);
    /// <inheritdoc/>
    protected override string? HeadName => "sequence-classification head";

    /// <summary>HF's default function for this model's config.</summary>
    public ClassificationFunction DefaultFunction => Model.Config.ProblemType switch
    {
        "regression" => ClassificationFunction.None,
        "multi_label_classification" => ClassificationFunction.Sigmoid,
        _ when Model.Config.NumLabels == 1 => ClassificationFunction.Sigmoid,
        _ => ClassificationFunction.Softmax,
    };

    /// <inheritdoc/>
    protected override void Validate(TextClassificationParams p)
    {
        if (p.TopK is < 1) throw new ArgumentException($"top_k must be >= 1 (or null for all labels), got {p.TopK}");
    }

    /// <inheritdoc/>
    protected override string Describe(TextPair input) => input.ToString();

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(TextPair input, int index, TextClassificationParams parameters)
    {
        if (input.Text is null) throw new ArgumentException($"input {index}: text is null");
        return [Encode(input.Text, input.Pair)];
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<float[]> Forward(ModelInputs inputs, TextClassificationParams parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "logits", output.Logits);
        return Rows(output.Logits);
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<LabelScore> Postprocess(TextPair input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<float[]> rows, TextClassificationParams parameters)
    {
        var scores = Apply(rows[0], parameters.Function ?? DefaultFunction);
        var labels = scores.Select((s, i) => new LabelScore(Label(i), FillMaskPipeline.AsDouble(s)));
        // HF: top_k=1 is argmax (the first of equal maxima); otherwise a stable sort by score, descending.
        if (parameters.TopK == 1)
        {
            int best = 0;
            for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
            return [new LabelScore(Label(best), FillMaskPipeline.AsDouble(scores[best]))];
        }
        var sorted = labels.OrderByDescending(l => l.Score).ToList();
        return parameters.TopK is int k ? sorted.Take(k).ToList() : sorted;
    }

    private string Label(int i) => Model.Config.Id2Label.TryGetValue(i, out var label) ? label : $"LABEL_{i}";

    /// <summary>HF's sigmoid / softmax (shifted by the max) / none, in float32 as numpy does on float32 logits.</summary>
    internal static float[] Apply(float[] logits, ClassificationFunction f)
    {
        switch (f)
        {
            case ClassificationFunction.Sigmoid:
                return logits.Select(x => 1f / (1f + MathF.Exp(-x))).ToArray();
            case ClassificationFunction.Softmax:
                var max = logits.Max();
                var exp = logits.Select(x => MathF.Exp(x - max)).ToArray();
                var sum = exp.Sum();
                return exp.Select(e => e / sum).ToArray();
            default:
                return (float[])logits.Clone();
        }
    }
}
