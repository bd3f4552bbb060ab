using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;

namespace TorchBert.Pipelines;

/// <summary>One answer, HF's <c>{"score", "start", "end", "answer"}</c>; Start/End are UTF-16 indices into the context.</summary>
public sealed record QaAnswer(double Score, int Start, int End, string Answer);

/// <summary>Per-call options of <see cref="QuestionAnsweringPipeline"/> (HF's names and defaults).</summary>
public sealed record QuestionAnsweringParams
{
    /// <summary>HF <c>top_k</c>: answers returned, best first.</summary>
    public int TopK { get; init; } = 1;
    /// <summary>HF <c>max_answer_len</c>: longest answer in tokens.</summary>
    public int MaxAnswerLen { get; init; } = 15;
    /// <summary>HF <c>max_seq_len</c>: tokens per window (question + context + specials); null = min(384, the model's length).</summary>
    public int? MaxSeqLen { get; init; }
    /// <summary>HF <c>doc_stride</c>: tokens of overlap between context windows; null = min(max_seq_len / 2, 128).</summary>
    public int? DocStride { get; init; }
    /// <summary>
    /// HF <c>max_question_len</c> (64). Like HF's fast-tokenizer path, it is accepted and not applied: the question is
    /// never truncated (a question too long for a window is an error).
    /// </summary>
    public int MaxQuestionLen { get; init; } = 64;
    /// <summary>HF <c>handle_impossible_answer</c>: also propose the empty answer, scored by [CLS].</summary>
    public bool HandleImpossibleAnswer { get; init; }
    /// <summary>HF <c>align_to_words</c>: widen the answer to whole words.</summary>
    public bool AlignToWords { get; init; } = true;
}

/// <summary>
/// Port of HF <c>QuestionAnsweringPipeline</c> (fast-tokenizer path): the question and the context are encoded as a
/// pair, truncating only the context into windows of <c>max_seq_len</c> tokens that overlap by <c>doc_stride</c>;
/// tokens outside the context (except [CLS]) are masked (<c>p_mask</c>), start/end logits are softmaxed per window,
/// spans scored as start × end with end − start &lt; <c>max_answer_len</c> (<c>decode_spans</c>), and answers of every
/// window merged and sorted. Each answer is widened to whole words (<c>align_to_words</c>).
/// </summary>
public class QuestionAnsweringPipeline(BertForQuestionAnswering model, BertTokenizer tokenizer, PipelineOptions? options = null,
    QuestionAnsweringParams? defaults = null)
    : Pipeline<BertForQuestionAnswering, QuestionContext, QuestionAnsweringParams, QuestionAnsweringPipeline.Row, IReadOnlyList<QaAnswer>>(model, tokenizer, options, defaults ?? new())
{
    /// <summary>One window's start and end logits.</summary>
    public sealed record Row(float[] Start, float[] End);

    /// <summary>Loads the model folder or Hub id <paramref name="path"/> and its tokenizer.</summary>
    public static QuestionAnsweringPipeline FromPretrained(string path, PipelineOptions? options = null, PretrainedOptions? modelOptions = null) =>
        PipelineLoading.Load(path, options, modelOptions, BertForQuestionAnswering.FromPretrained, (m, t) => new QuestionAnsweringPipeline(m, t, options));

    /// <inheritdoc/>
    public override string TaskName => "question-answering";
    /// <inheritdoc/>
    protected override string? HeadName => "question-answering head";

    /// <summary>Several questions about one context.</summary>
    public IReadOnlyList<IReadOnlyList<QaAnswer>> Run(IReadOnlyList<string> questions, string context, QuestionAnsweringParams? parameters = null) =>
        Run(questions.Select(q => new QuestionContext(q, context)).ToList(), parameters);

    /// <summary>The window length used: <see cref="QuestionAnsweringParams.MaxSeqLen"/> or min(384, the model's length).</summary>
    public int MaxSeqLenOf(QuestionAnsweringParams p) => Math.Min(p.MaxSeqLen ?? 384, MaxLength);

    /// <summary>The stride used: <see cref="QuestionAnsweringParams.DocStride"/> or min(max_seq_len / 2, 128).</summary>
    public int DocStrideOf(QuestionAnsweringParams p) => p.DocStride ?? Math.Min(MaxSeqLenOf(p) / 2, 128);

    /// <inheritdoc/>
    protected override void Validate(QuestionAnsweringParams p)
    {
        if (p.TopK < 1) throw new ArgumentException($"top_k must be >= 1, got {p.TopK}");
        if (p.MaxAnswerLen < 1) throw new ArgumentException($"max_answer_len must be >= 1, got {p.MaxAnswerLen}");
        if (p.MaxSeqLen is < 4) throw new ArgumentException($"max_seq_len must be >= 4, got {p.MaxSeqLen}");
        if (p.DocStride is < 0) throw new ArgumentException($"doc_stride must be >= 0, got {p.DocStride}");
        if (DocStrideOf(p) > MaxSeqLenOf(p))
            throw new ArgumentException($"doc_stride ({DocStrideOf(p)}) is larger than max_seq_len ({MaxSeqLenOf(p)})");
    }

    /// <inheritdoc/>
    protected override string Describe(QuestionContext input) => input.ToString();

    /// <inheritdoc/>
    protected override IReadOnlyList<BertEncoding> Preprocess(QuestionContext input, int index, QuestionAnsweringParams p)
    {
        if (string.IsNullOrEmpty(input.Question)) throw new ArgumentException($"input {index}: the question is empty");
        if (string.IsNullOrEmpty(input.Context)) throw new ArgumentException($"input {index}: the context is empty");
        try
        {
            var first = Tokenizer.Encode(input.Question, input.Context, new EncodeOptions
            {
                Truncation = TruncationStrategy.OnlySecond, MaxLength = MaxSeqLenOf(p), Stride = DocStrideOf(p), ReturnOverflowingTokens = true,
            });
            return [first, .. first.Overflowing];
        }
        catch (TokenizerException e)
        {
            throw new ArgumentException($"input {index}: the question does not leave room for the context in windows of {MaxSeqLenOf(p)} tokens with doc_stride {DocStrideOf(p)} ({e.Message})");
        }
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<Row> Forward(ModelInputs inputs, QuestionAnsweringParams parameters)
    {
        var output = Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, skipPadding: true);
        Trace("forward", "start_logits", output.StartLogits);
        var starts = Rows(output.StartLogits);
        var ends = Rows(output.EndLogits);
        return starts.Select((s, b) =>
        {
            var n = inputs.Encoding.Encodings[b].Length;
            return new Row(s[..n], ends[b][..n]);
        }).ToList();
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<QaAnswer> Postprocess(QuestionContext input, IReadOnlyList<PipelineChunk> chunks, IReadOnlyList<Row> rows, QuestionAnsweringParams p)
    {
        var minNullScore = 1000000f;
        var answers = new List<QaAnswer>();
        for (int c = 0; c < chunks.Count; c++)
        {
            var enc = chunks[c].Encoding;
            // p_mask: 1 where a token cannot be in the answer (not the context), [CLS] kept.
            var allowed = Enumerable.Range(0, enc.Length)
                .Select(j => (enc.SequenceIds[j] == 1 || enc.InputIds[j] == Tokenizer.ClsTokenId) && enc.AttentionMask[j] != 0).ToArray();
            var (starts, ends, scores) = SelectStartsEnds(rows[c].Start, rows[c].End, allowed, ref minNullScore, p);
            for (int k = 0; k < starts.Length; k++)
            {
                var (startIndex, endIndex) = GetIndices(enc, starts[k], ends[k], p.AlignToWords);
                answers.Add(new QaAnswer(FillMaskPipeline.AsDouble(scores[k]), startIndex, endIndex, input.Context[startIndex..endIndex]));
            }
        }
        if (p.HandleImpossibleAnswer) answers.Add(new QaAnswer(FillMaskPipeline.AsDouble(minNullScore), 0, 0, ""));
        return answers.OrderByDescending(a => a.Score).Take(p.TopK).ToList();
    }

    /// <summary>HF <c>select_starts_ends</c>: mask, softmax (float32), null score from [CLS], then <see cref="DecodeSpans"/>.</summary>
    internal static (int[] Starts, int[] Ends, float[] Scores) SelectStartsEnds(float[] startLogits, float[] endLogits, bool[] allowed,
        ref float minNullScore, QuestionAnsweringParams p)
    {
        var start = Softmax(startLogits.Select((x, j) => allowed[j] ? x : -10000f).ToArray());
        var end = Softmax(endLogits.Select((x, j) => allowed[j] ? x : -10000f).ToArray());
        if (p.HandleImpossibleAnswer) minNullScore = Math.Min(minNullScore, start[0] * end[0]);
        start[0] = end[0] = 0f;
        return DecodeSpans(start, end, p.TopK, p.MaxAnswerLen, allowed);
    }

    /// <summary>
    /// HF <c>decode_spans</c>: scores start[s]·end[e] for s ≤ e ≤ s + max_answer_len − 1 (0 elsewhere), the top_k of
    /// all n² (ties: the first in row-major order), then those whose start and end are both allowed.
    /// </summary>
    internal static (int[] Starts, int[] Ends, float[] Scores) DecodeSpans(float[] start, float[] end, int topK, int maxAnswerLen, bool[] allowed)
    {
        int n = start.Length;
        float Score(int s, int e) => e >= s && e - s <= maxAnswerLen - 1 ? start[s] * end[e] : 0f;
        IEnumerable<int> flat;
        if (topK == 1)
        {
            int best = 0;
            float bestScore = Score(0, 0);
            for (int k = 1; k < n * n; k++)
            {
                var v = Score(k / n, k % n);
                if (v > bestScore) { best = k; bestScore = v; }
            }
            flat = [best];
        }
        else flat = Enumerable.Range(0, n * n).OrderByDescending(k => Score(k / n, k % n)).Take(topK);
        var kept = flat.Where(k => allowed[k / n] && allowed[k % n]).ToArray();
        return (kept.Select(k => k / n).ToArray(), kept.Select(k => k % n).ToArray(), kept.Select(k => Score(k / n, k % n)).ToArray());
    }

    private static float[] Softmax(float[] x) => TextClassificationPipeline.Apply(x, ClassificationFunction.Softmax);

    /// <summary>HF <c>get_indices</c>: token span → character span in the context, widened to the words (<c>word_to_chars</c>) when aligning.</summary>
    private static (int Start, int End) GetIndices(BertEncoding enc, int s, int e, bool alignToWords)
    {
        if (alignToWords && enc.WordIds[s] is int startWord && enc.WordIds[e] is int endWord)
        {
            var (ws, _) = WordToChars(enc, startWord);
            var (_, we) = WordToChars(enc, endWord);
            return (ws, we);
        }
        return (enc.Offsets[s].Start, enc.Offsets[e].End);
    }

    /// <summary><c>word_to_chars(word, sequence_index=1)</c>: from the first to the last context token of that word in this window.</summary>
    private static (int Start, int End) WordToChars(BertEncoding enc, int word)
    {
        int first = -1, last = -1;
        for (int j = 0; j < enc.Length; j++)
            if (enc.SequenceIds[j] == 1 && enc.WordIds[j] == word) { if (first < 0) first = j; last = j; }
        return (enc.Offsets[first].Start, enc.Offsets[last].End);
    }
}
