using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;

namespace TorchBert.Pipelines;

/// <summary>HF's zero-shot result: the sequence, the candidate labels best first, and their scores.</summary>
public sealed record ZeroShotResult(string Sequence, IReadOnlyList<string> Labels, IReadOnlyList<double> Scores);

/// <summary>Per-call options of <see cref="ZeroShotClassificationPipeline"/>.</summary>
public sealed record ZeroShotParams
{
    /// <summary>HF <c>candidate_labels</c> (at least one).</summary>
    public IReadOnlyList<string> CandidateLabels { get; init; } = [];
    /// <summary>HF <c>hypothesis_template</c>; <c>{}</c> stands for the label.</summary>
    public string HypothesisTemplate { get; init; } = "This example is {}.";
    /// <summary>HF <c>multi_label</c>: score each label on its own (entailment vs contradiction) instead of a softmax over labels.</summary>
    public bool MultiLabel { get; init; }

    /// <summary>HF's parsing of a comma-separated label string: split, trimmed, empty ones dropped.</summary>
    public static IReadOnlyList<string> ParseLabels(string labels) =>
        labels.Split(',').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
}

/// <summary>
/// Port of HF <c>ZeroShotClassificationPipeline</c> on an NLI model: one (sequence, hypothesis) pair per candidate
/// label (truncating the sequence only, as HF), entailment logits softmaxed over the labels, or with
/// <c>multi_label</c> (or a single label) entailment vs contradiction per label. The entailment id is the first
/// <c>label2id</c> entry whose name starts with "entail" (case-insensitive), as HF; a model without one is refused
/// (HF only warns and uses the last label).
/// </summary>
public class ZeroShotClassificationPipeline
    : Pipeline<BertForSequenceClassification, string, ZeroShotParams, float[], ZeroShotResult>
{
    /// <summary>A zero-shot pipeline over an NLI model (its <c>entailment</c> label decides).</summary>
    public ZeroShotClassificationPipeline(BertForSequenceClassification model, BertTokenizer tokenizer, PipelineOptions? options = null, ZeroShotParams? defaults = null)
        : base(model, tokenizer, options, defaults ?? new())
    {
        EntailmentId = model.Config.Label2Id.FirstOrDefault(kv => kv.Key.StartsWith("entail", StringComparison.OrdinalIgnoreCase), new("", -1)).Value;
        if (EntailmentId < 0)
            throw new ArgumentException(
                $"{model.LoadReport?.Source ?? "the model"}: config label2id ({string.Join(", ", model.Config.Label2Id.Keys)}) has no label starting with 'entail': zero-shot classification needs an NLI model");
    }

    /// <summary>Loads the NLI model folder or Hub id <paramref name="path"/> and its tokenizer.</summary>
    public static ZeroShotClassificationPipeline FromPretrained(string path, PipelineOptions? options = null, PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertForSequenceClassification.FromPretrained, (m, t) => new ZeroShotClassificationPipeline(m, t, options));

    /// <inheritdoc/>
    public override string TaskName => "zero-shot-classification";
    /// <inheritdoc/>
    protected override string? HeadName => "sequence-classification head";

    /// <summary>HF <c>entailment_id</c>.</summary>
    public int EntailmentId { get; }

    private static string Hypothesis(string template, string label) => template.Replace("{}", label).Replace("{0}", label);

    /// <inheritdoc/>
    protected override void Validate(ZeroShotParams p)
    {
        if (p.CandidateLabels is null || p.CandidateLabels.Count == 0) throw new ArgumentException("at least one candidate label is needed");
        for (int i = 0; i < p.CandidateLabels.Count; i++)
            if (string.IsNullOrWhiteSpace(p.CandidateLabels[i])) throw new ArgumentException($"candidate label {i} is empty");
        if (Hypothesis(p.HypothesisTemplate, p.CandidateLabels[0]) == p.HypothesisTemplate)
            throw new ArgumentException($"the hypothesis template \"{p.HypothesisTemplate}\" has no {{}} where the label should go");
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string input, int index, ZeroShotParams p)
    {
        if (input.Length == 0) throw new ArgumentException($"input {index} is empty");
        return p.CandidateLabels.Select(label =>
        {
            var hypothesis = Hypothesis(p.HypothesisTemplate, label);
            // HF: only_first; when the sequence cannot be shortened enough, no truncation.
            try { return Encode(input, hypothesis, truncateByDefault: true, strategy: TruncationStrategy.OnlyFirst); }
            catch (TokenizerException) { return Tokenizer.Encode(input, hypothesis); }
        }).ToList();
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<float[]> Forward(ModelInputs inputs, ZeroShotParams parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "logits", output.Logits);
        return Rows(output.Logits);
    }

    /// <inheritdoc/>
    protected override ZeroShotResult Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<float[]> rows, ZeroShotParams p)
    {
        var labels = p.CandidateLabels;
        float[] scores;
        if (p.MultiLabel || labels.Count == 1)
        {
            var entail = EntailmentId;
            var contradiction = entail == 0 ? rows[0].Length - 1 : 0;       // HF: -1 (the last) when entailment is 0
            scores = rows.Select(r =>
            {
                float ec = MathF.Exp(r[contradiction]), ee = MathF.Exp(r[entail]);
                return ee / (ec + ee);
            }).ToArray();
        }
        else
        {
            var exp = rows.Select(r => MathF.Exp(r[EntailmentId])).ToArray();
            var sum = exp.Sum();
            scores = exp.Select(e => e / sum).ToArray();
        }
        // HF: reversed(argsort(scores)); numpy's argsort is stable for these lengths, so ties come last-first.
        var order = Enumerable.Range(0, labels.Count).OrderBy(i => scores[i]).Reverse().ToList();
        return new ZeroShotResult(input, order.Select(i => labels[i]).ToList(), order.Select(i => FillMaskPipeline.AsDouble(scores[i])).ToList());
    }
}
