using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Pipelines;

/// <summary>One candidate for a masked position, as HF's fill-mask pipeline returns it.</summary>
/// <param name="Score">softmax probability over the vocabulary.</param>
/// <param name="Token">vocabulary id.</param>
/// <param name="TokenStr">the token decoded.</param>
/// <param name="Sequence">the input with this token in place of the mask (decoded as HF does).</param>
public sealed record FillMaskResult(double Score, long Token, string TokenStr, string Sequence);

/// <summary>Per-call options of <see cref="FillMaskPipeline"/> (HF's <c>top_k</c>, <c>targets</c>).</summary>
public sealed record FillMaskParams
{
    /// <summary>Candidates per mask (HF default 5).</summary>
    public int TopK { get; init; } = 5;
    /// <summary>Words to rank instead of the whole vocabulary; null = all.</summary>
    public IReadOnlyList<string>? Targets { get; init; }
}

/// <summary>
/// Port of HF <c>FillMaskPipeline</c>: for each input, one list of <see cref="FillMaskResult"/> per <c>[MASK]</c>,
/// sorted by score; <c>top_k</c> (default 5); optional <c>targets</c> restricting the candidates (a word outside the
/// vocabulary stands for its first sub-token, as HF does).
/// </summary>
public class FillMaskPipeline : Pipeline<BertForMaskedLM, string, FillMaskParams, FillMaskPipeline.Row, IReadOnlyList<IReadOnlyList<FillMaskResult>>>
{
    private readonly long[]? targetIds;
    private IReadOnlyList<PipelineChunk>? collating;

    /// <summary>One row's ids as the model saw them and its top-k: scores and vocabulary ids, k per mask.</summary>
    public sealed record Row(long[] Ids, float[] Scores, long[] Tokens, int K);

    /// <summary>A fill-mask pipeline over <paramref name="model"/>: the <paramref name="topK"/> best tokens (among <paramref name="targets"/> when given) per mask.</summary>
    public FillMaskPipeline(BertForMaskedLM model, BertTokenizer tokenizer, PipelineOptions? options = null, int topK = 5, IEnumerable<string>? targets = null)
        : base(model, tokenizer, options, new FillMaskParams { TopK = topK, Targets = targets?.ToList() })
    {
        if (topK < 1) throw new ArgumentException($"top_k must be >= 1, got {topK}");
        if (targets is not null) targetIds = TargetIdsOf(DefaultParameters.Targets!, Warnings);
    }

    /// <summary>Loads model and tokenizer from a model folder.</summary>
    public static FillMaskPipeline FromPretrained(string path, PipelineOptions? options = null, int topK = 5, IEnumerable<string>? targets = null,
        PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertForMaskedLM.FromPretrained, (m, t) => new FillMaskPipeline(m, t, options, topK, targets));

    /// <inheritdoc/>
    public override string TaskName => "fill-mask";
    /// <inheritdoc/>
    protected override string? HeadName => "MLM head";

    /// <summary>Default number of predictions per mask.</summary>
    public int TopK => DefaultParameters.TopK;

    /// <summary>Target words' ids, or null for the whole vocabulary.</summary>
    public IReadOnlyList<long>? TargetIds => targetIds;

    /// <summary>Notes about targets replaced by their first sub-token (HF logs these as warnings).</summary>
    public List<string> Warnings { get; } = [];

    private long[] TargetIdsOf(IEnumerable<string> targets, List<string> warnings)
    {
        var ids = new List<long>();
        foreach (var target in targets)
        {
            var id = Tokenizer.ConvertTokenToId(target);
            if (id == Tokenizer.UnkTokenId && target != "[UNK]")
            {
                var pieces = Tokenizer.Encode(target, null, new EncodeOptions { AddSpecialTokens = false }).InputIds;
                if (pieces.Length == 0) { warnings.Add($"target '{target}' has no tokens; ignored"); continue; }
                id = (int)pieces[0];
                warnings.Add($"target '{target}' is not in the vocabulary; using '{Tokenizer.ConvertIdToToken(id)}'");
            }
            ids.Add(id);
        }
        if (ids.Count == 0) throw new ArgumentException("at least one target must be given (all targets were empty)");
        return ids.Distinct().ToArray();
    }

    private long[]? TargetsFor(FillMaskParams p) =>
        ReferenceEquals(p.Targets, DefaultParameters.Targets) ? targetIds : p.Targets is null ? null : TargetIdsOf(p.Targets, []);

    /// <inheritdoc/>
    protected override void Validate(FillMaskParams p)
    {
        if (p.TopK < 1) throw new ArgumentException($"top_k must be >= 1, got {p.TopK}");
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string text, int index, FillMaskParams parameters) => [Encode(text)];

    /// <inheritdoc/>
    protected sealed override ModelInputs Collate(IReadOnlyList<PipelineChunk> batch)
    {
        collating = batch;
        try { return Preprocess(batch.Select(c => c.Text).ToList()); }
        finally { collating = null; }
    }

    /// <summary>A batch of texts → tensors, each checked for a mask (the rows were tokenized by the per-input step).</summary>
    protected virtual ModelInputs Preprocess(IReadOnlyList<string> texts)
    {
        var batch = collating ?? texts.Select((t, i) => new PipelineChunk(i, 0, t, Encode(t))).ToList();
        var inputs = base.Collate(batch);
        for (int i = 0; i < texts.Count; i++)
            if (!inputs.Encoding.InputIds[i].Contains(Tokenizer.MaskTokenId))
            {
                // with truncation on, the mask may have been there and cut off: say so rather than "has no [MASK]"
                var input = batch[i].Input;
                if (Options.Truncation == true && Tokenizer.Encode(texts[i]).InputIds.Contains(Tokenizer.MaskTokenId))
                    throw new ArgumentException(
                        $"input {input}: its {Tokenizer.MaskToken} token is beyond the first {MaxLength} tokens and was cut off by truncation: \"{Shorten(texts[i])}\"");
                throw new ArgumentException($"input {input} has no {Tokenizer.MaskToken} token: \"{Shorten(texts[i])}\"");
            }
        return inputs;
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<Row> Forward(ModelInputs inputs, FillMaskParams parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "logits", output.Logits);
        var ids = inputs.Encoding.InputIds;
        var t = inputs.InputIds.shape[1];
        var maskPositions = ids.Select(row => Enumerable.Range(0, row.Length).Where(j => row[j] == Tokenizer.MaskTokenId).ToArray()).ToArray();
        var flat = maskPositions.SelectMany((cols, row) => cols.Select(col => row * t + col)).ToArray();

        // (masks, vocab) probabilities at every mask, on the device; one top-k and one copy to the host.
        var logits = output.Logits.reshape(-1, output.Logits.shape[^1]).index_select(0, tensor(flat, device: output.Logits.device));
        var probs = logits.to(ScalarType.Float32).softmax(-1);
        var targets = TargetsFor(parameters);
        if (targets is not null) probs = probs.index_select(1, tensor(targets, device: probs.device));
        var k = (int)Math.Min(parameters.TopK, probs.shape[1]);
        var (values, indices) = probs.topk(k, dim: 1);
        Trace("postprocess", "top-k probabilities", values);
        var scores = values.cpu().data<float>().ToArray();
        var picks = indices.cpu().data<long>().ToArray();
        var rows = new List<Row>();
        int m = 0;
        for (int r = 0; r < maskPositions.Length; r++)
        {
            var n = maskPositions[r].Length * k;
            rows.Add(new Row(ids[r], scores.AsSpan(m * k, n).ToArray(),
                picks.AsSpan(m * k, n).ToArray().Select(pick => targets is null ? pick : targets[pick]).ToArray(), k));
            m += maskPositions[r].Length;
        }
        return rows;
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<IReadOnlyList<FillMaskResult>> Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<Row> rows, FillMaskParams parameters)
    {
        var row = rows[0];
        var ids = row.Ids;
        var cols = Enumerable.Range(0, ids.Length).Where(j => ids[j] == Tokenizer.MaskTokenId).ToArray();
        var single = cols.Length == 1;
        var perMask = new List<IReadOnlyList<FillMaskResult>>();
        for (int mi = 0; mi < cols.Length; mi++)
        {
            var candidates = new List<FillMaskResult>(row.K);
            for (int j = 0; j < row.K; j++)
            {
                var token = row.Tokens[mi * row.K + j];
                var tokens = (long[])ids.Clone();
                tokens[cols[mi]] = token;
                var kept = tokens.Where(t => t != Tokenizer.PadTokenId);
                candidates.Add(new FillMaskResult(AsDouble(row.Scores[mi * row.K + j]), token, Tokenizer.Decode([token]),
                    Tokenizer.Decode(kept, skipSpecialTokens: single)));
            }
            perMask.Add(candidates);
        }
        return perMask;
    }

    /// <summary>float → double without binary noise (0.0884 stays 0.0884, not 0.08839999884).</summary>
    internal static double AsDouble(float f) => double.Parse(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
