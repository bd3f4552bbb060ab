using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;

namespace TorchBert.Pipelines;

/// <summary>HF <c>AggregationStrategy</c>: how token predictions become entities.</summary>
public enum AggregationStrategy
{
    /// <summary>One result per token (<c>entity</c>, <c>index</c>).</summary>
    None,
    /// <summary>Adjacent tokens with the same tag (B-/I- rules) grouped (<c>entity_group</c>).</summary>
    Simple,
    /// <summary>Words first (sub-words take the first token's label), then grouped.</summary>
    First,
    /// <summary>Words first (scores averaged over the word's tokens), then grouped.</summary>
    Average,
    /// <summary>Words first (the token with the highest score decides), then grouped.</summary>
    Max,
}

/// <summary>
/// One result of the token-classification pipeline, HF's dict: <c>entity</c> + <c>index</c> (aggregation none) or
/// <c>entity_group</c> (otherwise), <c>score</c>, <c>word</c>, <c>start</c>, <c>end</c>. Start/End are UTF-16
/// indices into the input (<c>text[Start..End]</c>); <see cref="TextOffsets.ToCodePoints(string, int)"/> converts to HF's Python offsets.
/// </summary>
public sealed record TokenEntity(string? Entity, string? EntityGroup, double Score, int? Index, string Word, int Start, int End)
{
    /// <summary>The label: <see cref="Entity"/> or <see cref="EntityGroup"/>.</summary>
    public string Label => Entity ?? EntityGroup!;
}

/// <summary>Per-call options of <see cref="TokenClassificationPipeline"/>.</summary>
public sealed record TokenClassificationParams
{
    /// <summary>HF <c>aggregation_strategy</c> (default none).</summary>
    public AggregationStrategy Aggregation { get; init; } = AggregationStrategy.None;
    /// <summary>HF <c>ignore_labels</c>; null = <c>["O"]</c>, empty = keep every label.</summary>
    public IReadOnlyList<string>? IgnoreLabels { get; init; }
    /// <summary>
    /// HF <c>stride</c>: texts longer than the model are split into overlapping windows of this many tokens of
    /// overlap and their entities merged (needs an aggregation other than none). null = truncate to the model's length.
    /// </summary>
    public int? Stride { get; init; }
}

/// <summary>
/// Port of HF <c>TokenClassificationPipeline</c> (NER) for WordPiece tokenizers: softmax per token, special tokens
/// skipped, HF's sub-word test (a token is a sub-word when its string and the text it covers differ in length, e.g.
/// <c>##ing</c> vs <c>ing</c>; [UNK] never is), word aggregation (first / average / max), B-/I- grouping,
/// <c>ignore_labels</c>, and, with a stride, windows over long texts merged as HF's
/// <c>aggregate_overlapping_entities</c> does. Inputs are truncated to the model's length by default, as HF does.
/// </summary>
public class TokenClassificationPipeline(BertForTokenClassification model, BertTokenizer tokenizer, PipelineOptions? options = null,
    TokenClassificationParams? defaults = null)
    : Pipeline<BertForTokenClassification, string, TokenClassificationParams, float[][], IReadOnlyList<TokenEntity>>(model, tokenizer, options, defaults ?? new())
{
    /// <summary>Loads the model folder or Hub id <paramref name="path"/> and its tokenizer.</summary>
    public static TokenClassificationPipeline FromPretrained(string path, PipelineOptions? options = null, PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertForTokenClassification.FromPretrained, (m, t) => new TokenClassificationPipeline(m, t, options));

    /// <inheritdoc/>
    public override string TaskName => "token-classification";
    /// <inheritdoc/>
    protected override string? HeadName => "token-classification head";

    /// <inheritdoc/>
    protected override void Validate(TokenClassificationParams p)
    {
        if (!Enum.IsDefined(p.Aggregation)) throw new ArgumentException($"unknown aggregation strategy {(int)p.Aggregation}");
        if (p.Stride is int s)
        {
            if (s < 0) throw new ArgumentException($"stride must be >= 0, got {s}");
            if (s >= MaxLength) throw new ArgumentException($"stride must be less than the model's max length ({MaxLength}), got {s}");
            if (p.Aggregation == AggregationStrategy.None)
                throw new ArgumentException($"stride ({s}) was given to process the whole text but aggregation_strategy is none: choose simple, first, average or max");
        }
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(string text, int index, TokenClassificationParams parameters)
    {
        if (parameters.Stride is int stride)
        {
            var first = Tokenizer.Encode(text, null, new EncodeOptions
            {
                Truncation = TruncationStrategy.LongestFirst, MaxLength = MaxLength, Stride = stride, ReturnOverflowingTokens = true,
            });
            return [first, .. first.Overflowing];
        }
        return [Encode(text, truncateByDefault: true)];
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<float[][]> Forward(ModelInputs inputs, TokenClassificationParams parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "logits", output.Logits);
        var rows = Rows(output.Logits);                                                       // B × (T·labels)
        var labels = (int)output.Logits.shape[^1];
        return rows.Select((row, b) => Enumerable.Range(0, inputs.Encoding.Encodings[b].Length)
            .Select(j => row.AsSpan(j * labels, labels).ToArray()).ToArray()).ToList();
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<TokenEntity> Postprocess(string input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<float[][]> rows, TokenClassificationParams parameters)
    {
        var ignore = parameters.IgnoreLabels ?? ["O"];
        var all = new List<TokenEntity>();
        for (int c = 0; c < chunks.Count; c++)
        {
            var pre = GatherPreEntities(input, chunks[c].Encoding, rows[c]);
            all.AddRange(Aggregate(pre, parameters.Aggregation).Where(e => !ignore.Contains(e.Label)));
        }
        return chunks.Count > 1 ? AggregateOverlappingEntities(all) : all;
    }

    private sealed record PreEntity(string Word, float[] Scores, int Start, int End, int Index, bool IsSubword);

    /// <summary>HF <c>softmax</c> per token (shifted by the max), in float32 as numpy on float32 logits.</summary>
    private static float[] Softmax(float[] logits) => TextClassificationPipeline.Apply(logits, ClassificationFunction.Softmax);

    private List<PreEntity> GatherPreEntities(string sentence, BertEncoding encoding, float[][] logits)
    {
        var pre = new List<PreEntity>();
        for (int idx = 0; idx < encoding.Length; idx++)
        {
            if (encoding.SpecialTokensMask[idx] != 0) continue;
            var word = Tokenizer.ConvertIdToToken(encoding.InputIds[idx]);
            var (start, end) = encoding.Offsets[idx];
            var wordRef = sentence[start..end];
            // WordPiece has a continuing-subword prefix: HF's "word aware" test, lengths in code points as Python's len.
            var isSubword = TextOffsets.ToCodePoints(word, word.Length) != TextOffsets.ToCodePoints(wordRef, wordRef.Length);
            if (encoding.InputIds[idx] == Tokenizer.UnkTokenId)
            {
                word = wordRef;
                isSubword = false;
            }
            pre.Add(new PreEntity(word, Softmax(logits[idx]), start, end, idx, isSubword));
        }
        return pre;
    }

    private List<TokenEntity> Aggregate(List<PreEntity> pre, AggregationStrategy strategy)
    {
        List<TokenEntity> entities;
        if (strategy is AggregationStrategy.None or AggregationStrategy.Simple)
        {
            entities = pre.Select(p =>
            {
                var i = ArgMax(p.Scores);
                return new TokenEntity(Label(i), null, FillMaskPipeline.AsDouble(p.Scores[i]), p.Index, p.Word, p.Start, p.End);
            }).ToList();
        }
        else entities = AggregateWords(pre, strategy);
        return strategy == AggregationStrategy.None ? entities : GroupEntities(entities);
    }

    private List<TokenEntity> AggregateWords(List<PreEntity> pre, AggregationStrategy strategy)
    {
        var words = new List<TokenEntity>();
        List<PreEntity>? group = null;
        foreach (var p in pre)
        {
            if (group is null) group = [p];
            else if (p.IsSubword) group.Add(p);
            else
            {
                words.Add(AggregateWord(group, strategy));
                group = [p];
            }
        }
        if (group is not null) words.Add(AggregateWord(group, strategy));
        return words;
    }

    private TokenEntity AggregateWord(List<PreEntity> tokens, AggregationStrategy strategy)
    {
        var word = ConvertTokensToString(tokens.Select(t => t.Word));
        float[] scores;
        switch (strategy)
        {
            case AggregationStrategy.First:
                scores = tokens[0].Scores;
                break;
            case AggregationStrategy.Max:
                // Python's max(): the first token with the highest maximum
                var best = tokens[0];
                foreach (var t in tokens.Skip(1)) if (t.Scores.Max() > best.Scores.Max()) best = t;
                scores = best.Scores;
                break;
            default:
                var n = tokens[0].Scores.Length;
                scores = Enumerable.Range(0, n).Select(j => (float)tokens.Average(t => (double)t.Scores[j])).ToArray();
                break;
        }
        var i = ArgMax(scores);
        return new TokenEntity(Label(i), null, FillMaskPipeline.AsDouble(scores[i]), null, word, tokens[0].Start, tokens[^1].End);
    }

    private static (string Bi, string Tag) GetTag(string name) =>
        name.StartsWith("B-", StringComparison.Ordinal) ? ("B", name[2..])
        : name.StartsWith("I-", StringComparison.Ordinal) ? ("I", name[2..])
        : ("I", name);

    private List<TokenEntity> GroupEntities(List<TokenEntity> entities)
    {
        var groups = new List<TokenEntity>();
        var current = new List<TokenEntity>();
        foreach (var e in entities)
        {
            if (current.Count == 0) { current.Add(e); continue; }
            var (bi, tag) = GetTag(e.Entity!);
            var (_, lastTag) = GetTag(current[^1].Entity!);
            if (tag == lastTag && bi != "B") current.Add(e);
            else
            {
                groups.Add(GroupSubEntities(current));
                current = [e];
            }
        }
        if (current.Count > 0) groups.Add(GroupSubEntities(current));
        return groups;
    }

    private TokenEntity GroupSubEntities(List<TokenEntity> entities)
    {
        var group = entities[0].Entity!.Split('-')[^1];
        var score = (float)entities.Average(e => e.Score);
        return new TokenEntity(null, group, FillMaskPipeline.AsDouble(score), null, ConvertTokensToString(entities.Select(e => e.Word)),
            entities[0].Start, entities[^1].End);
    }

    /// <summary>HF <c>aggregate_overlapping_entities</c>: of entities overlapping the previous kept one, the longer (then higher-scoring) wins.</summary>
    private static List<TokenEntity> AggregateOverlappingEntities(List<TokenEntity> entities)
    {
        if (entities.Count == 0) return entities;
        var sorted = entities.OrderBy(e => e.Start).ToList();
        var result = new List<TokenEntity>();
        var previous = sorted[0];
        foreach (var e in sorted)
        {
            if (previous.Start <= e.Start && e.Start < previous.End)
            {
                int length = e.End - e.Start, previousLength = previous.End - previous.Start;
                if (length > previousLength || (length == previousLength && e.Score > previous.Score)) previous = e;
            }
            else
            {
                result.Add(previous);
                previous = e;
            }
        }
        result.Add(previous);
        return result;
    }

    /// <summary>HF's fast tokenizer <c>convert_tokens_to_string</c> (the WordPiece decoder), as the pipeline uses it for words.</summary>
    private string ConvertTokensToString(IEnumerable<string> tokens) => Tokenizer.ConvertTokensToString(tokens);

    private string Label(int i) => Model.Config.Id2Label.TryGetValue(i, out var label) ? label
        : throw new ArgumentException($"{Model.LoadReport?.Source ?? "the model"}: config id2label has no label {i} (num_labels {Model.Config.NumLabels})");

    /// <summary>numpy argmax: the first of equal maxima.</summary>
    private static int ArgMax(float[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
