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

/// <summary>
/// Port of HF <c>FillMaskPipeline</c>: for each input, one list of <see cref="FillMaskResult"/> per <c>[MASK]</c>,
/// sorted by score; <c>top_k</c> (default 5); optional <c>targets</c> restricting the candidates (a word outside the
/// vocabulary stands for its first sub-token, as HF does).
/// </summary>
public class FillMaskPipeline : Pipeline<BertForMaskedLM, MaskedLMOutput, IReadOnlyList<IReadOnlyList<FillMaskResult>>>
{
    private long[]? targetIds;

    public FillMaskPipeline(BertForMaskedLM model, BertTokenizer tokenizer, PipelineOptions? options = null, int topK = 5, IEnumerable<string>? targets = null)
        : base(model, tokenizer, options)
    {
        if (topK < 1) throw new ArgumentException($"top_k must be >= 1, got {topK}");
        TopK = topK;
        if (targets is not null) SetTargets(targets);
        if (model.LoadReport?.NewlyInitialized.Count > 0)
            throw new ArgumentException($"{model.LoadReport.Source} has no MLM head (cls.predictions.* were not in the checkpoint): fill-mask would be random");
    }

    /// <summary>Loads model and tokenizer from a model folder.</summary>
    public static FillMaskPipeline FromPretrained(string path, PipelineOptions? options = null, int topK = 5, IEnumerable<string>? targets = null)
    {
        var model = BertForMaskedLM.FromPretrained(path, new PretrainedOptions { Device = options?.Device, Revision = options?.Revision, DType = options?.DType });
        try { return new FillMaskPipeline(model, TokenizerLoader.ForModel(path, options?.Revision), options, topK, targets); }
        catch { model.Dispose(); throw; }
    }

    public int TopK { get; }

    /// <summary>Target words' ids, or null for the whole vocabulary.</summary>
    public IReadOnlyList<long>? TargetIds => targetIds;

    /// <summary>Notes about targets replaced by their first sub-token (HF logs these as warnings).</summary>
    public List<string> Warnings { get; } = [];

    private void SetTargets(IEnumerable<string> targets)
    {
        var ids = new List<long>();
        foreach (var target in targets)
        {
            var id = Tokenizer.ConvertTokenToId(target);
            if (id == Tokenizer.UnkTokenId && target != "[UNK]")
            {
                var pieces = Tokenizer.Encode(target, null, new EncodeOptions { AddSpecialTokens = false }).InputIds;
                if (pieces.Length == 0) { Warnings.Add($"target '{target}' has no tokens; ignored"); continue; }
                id = (int)pieces[0];
                Warnings.Add($"target '{target}' is not in the vocabulary; using '{Tokenizer.ConvertIdToToken(id)}'");
            }
            ids.Add(id);
        }
        if (ids.Count == 0) throw new ArgumentException("at least one target must be given (all targets were empty)");
        targetIds = ids.Distinct().ToArray();
    }

    protected override ModelInputs Preprocess(IReadOnlyList<string> texts)
    {
        var inputs = base.Preprocess(texts);
        for (int i = 0; i < texts.Count; i++)
            if (!inputs.Encoding.InputIds[i].Contains(Tokenizer.MaskTokenId))
            {
                // with truncation on, the mask may have been there and cut off: say so rather than "has no [MASK]"
                if (Options.Truncation && Tokenizer.Encode(texts[i]).InputIds.Contains(Tokenizer.MaskTokenId))
                    throw new ArgumentException(
                        $"input {i}: its {Tokenizer.MaskToken} token is beyond the first {MaxLength} tokens and was cut off by truncation: \"{Shorten(texts[i])}\"");
                throw new ArgumentException($"input {i} has no {Tokenizer.MaskToken} token: \"{Shorten(texts[i])}\"");
            }
        return inputs;
    }

    protected override MaskedLMOutput Forward(ModelInputs inputs)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "logits", output.Logits);
        return output;
    }

    protected override IReadOnlyList<IReadOnlyList<IReadOnlyList<FillMaskResult>>> Postprocess(ModelInputs inputs, MaskedLMOutput outputs)
    {
        var ids = inputs.Encoding.InputIds;
        var maskPositions = ids.Select(row => Enumerable.Range(0, row.Length).Where(j => row[j] == Tokenizer.MaskTokenId).ToArray()).ToArray();
        var flat = maskPositions.SelectMany((cols, row) => cols.Select(col => (long)row * ids[0].Length + col)).ToArray();

        // (masks, vocab) probabilities at every mask, on the device; one top-k and one copy to the host.
        var logits = outputs.Logits.reshape(-1, outputs.Logits.shape[^1]).index_select(0, tensor(flat, device: outputs.Logits.device));
        var probs = logits.to(ScalarType.Float32).softmax(-1);
        if (targetIds is not null) probs = probs.index_select(1, tensor(targetIds, device: probs.device));
        var k = (int)Math.Min(TopK, probs.shape[1]);
        var (values, indices) = probs.topk(k, dim: 1);
        Trace("postprocess", "top-k probabilities", values);
        var scores = values.cpu().data<float>().ToArray();
        var picks = indices.cpu().data<long>().ToArray();

        var results = new List<IReadOnlyList<IReadOnlyList<FillMaskResult>>>();
        int m = 0;
        for (int row = 0; row < ids.Length; row++)
        {
            var single = maskPositions[row].Length == 1;
            var perMask = new List<IReadOnlyList<FillMaskResult>>();
            foreach (var col in maskPositions[row])
            {
                var candidates = new List<FillMaskResult>(k);
                for (int j = 0; j < k; j++)
                {
                    var pick = picks[m * k + j];
                    var token = targetIds is null ? pick : targetIds[pick];
                    var tokens = (long[])ids[row].Clone();
                    tokens[col] = token;
                    var kept = tokens.Where(t => t != Tokenizer.PadTokenId);
                    candidates.Add(new FillMaskResult(AsDouble(scores[m * k + j]), token, Tokenizer.Decode([token]),
                        Tokenizer.Decode(kept, skipSpecialTokens: single)));
                }
                perMask.Add(candidates);
                m++;
            }
            results.Add(perMask);
        }
        return results;
    }

    /// <summary>float → double without binary noise (0.0884 stays 0.0884, not 0.08839999884).</summary>
    private static double AsDouble(float f) => double.Parse(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
