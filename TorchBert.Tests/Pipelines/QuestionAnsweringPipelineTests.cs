using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

/// <summary>
/// question-answering against HF's question_answering.py re-done here: the fixture's recorded start/end logits (HF's
/// model on its 3 inputs) decoded with HF's select_starts_ends / decode_spans / get_indices must give the pipeline's
/// answers; longer contexts are checked window by window on the tokenizer's windows.
/// </summary>
public sealed class QuestionAnsweringPipelineTests : IClassFixture<QuestionAnsweringPipelineTests.Model>
{
    public sealed class Model : IDisposable
    {
        public QuestionAnsweringPipeline Pipe { get; } = QuestionAnsweringPipeline.FromPretrained(Fixtures.Dir("tiny-bert-qa"), new PipelineOptions { Device = CPU });
        public void Dispose() => Pipe.Dispose();
    }

    private readonly QuestionAnsweringPipeline pipe;
    public QuestionAnsweringPipelineTests(Model m) => pipe = m.Pipe;

    /// <summary>The fixture's inputs (expected.safetensors metadata "about").</summary>
    private static readonly (string Question, string Context)[] Recorded =
    [
        ("Who wrote Frankenstein?", "Frankenstein was written by Mary Shelley, who lived in London."),
        ("Where is the Eiffel Tower?", "The Eiffel Tower is a wrought iron tower in Paris, France."),
        ("What color is the sky?", "The sky is blue."),
    ];

    private sealed record Answer(double Score, int Start, int End, string Text);

    /// <summary>HF's decoding of one window, written out as numpy does it (float64 here; the pipeline's float32 agrees to 1e-6).</summary>
    private static List<(double Score, int S, int E)> DecodeWindow(double[] startLogits, double[] endLogits, BertEncoding enc, long clsId,
        int topK, int maxAnswerLen, ref double minNull, bool impossible)
    {
        int n = enc.Length;
        var ok = new bool[n];
        for (int j = 0; j < n; j++) ok[j] = enc.SequenceIds[j] == 1 || enc.InputIds[j] == clsId;   // 1 - p_mask, CLS kept
        double[] Norm(double[] x)
        {
            var masked = x.Take(n).Select((v, j) => ok[j] ? v : -10000.0).ToArray();
            var e = masked.Select(v => Math.Exp(v - masked.Max())).ToArray();
            return e.Select(v => v / e.Sum()).ToArray();
        }
        var start = Norm(startLogits);
        var end = Norm(endLogits);
        if (impossible) minNull = Math.Min(minNull, start[0] * end[0]);
        start[0] = end[0] = 0;
        var candidates = new List<(double Score, int S, int E)>();
        for (int s = 0; s < n; s++)
            for (int e = 0; e < n; e++)
                candidates.Add((e >= s && e - s < maxAnswerLen ? start[s] * end[e] : 0, s, e));
        return candidates.OrderByDescending(c => c.Score).Take(topK).Where(c => ok[c.S] && ok[c.E]).ToList();
    }

    /// <summary>HF get_indices with align_to_words: the words (first piece + its ## continuations) holding s and e.</summary>
    private static (int, int) Chars(BertEncoding enc, int s, int e, bool align)
    {
        if (!align || enc.SequenceIds[s] != 1) return (enc.Offsets[s].Start, enc.Offsets[e].End);
        int ws = s;
        while (ws > 0 && enc.Tokens[ws].StartsWith("##") && enc.SequenceIds[ws - 1] == 1) ws--;
        int we = e;
        while (we + 1 < enc.Length && enc.Tokens[we + 1].StartsWith("##") && enc.SequenceIds[we + 1] == 1) we++;
        return (enc.Offsets[ws].Start, enc.Offsets[we].End);
    }

    private static List<Answer> Oracle(string context, IReadOnlyList<(BertEncoding Enc, double[] Start, double[] End)> windows, long clsId,
        int topK = 1, int maxAnswerLen = 15, bool impossible = false, bool align = true)
    {
        double minNull = 1000000;
        var answers = new List<Answer>();
        foreach (var (enc, start, end) in windows)
            foreach (var (score, s, e) in DecodeWindow(start, end, enc, clsId, topK, maxAnswerLen, ref minNull, impossible))
            {
                var (a, b) = Chars(enc, s, e, align);
                answers.Add(new Answer(score, a, b, context[a..b]));
            }
        if (impossible) answers.Add(new Answer(minNull, 0, 0, ""));
        return answers.OrderByDescending(a => a.Score).Take(topK).ToList();
    }

    private static void ShouldEqual(IReadOnlyList<QaAnswer> got, List<Answer> expected, string because)
    {
        got.Select(a => (a.Start, a.End, a.Answer)).Should().Equal(expected.Select(a => (a.Start, a.End, a.Text)), because);
        got.Select(a => a.Score).Should().Equal(expected.Select(a => a.Score), (x, y) => Math.Abs(x - y) < 1e-5, because);
    }

    private (BertEncoding, double[], double[]) RecordedWindow(int row)
    {
        var e = Fixtures.Expected("tiny-bert-qa");
        var enc = pipe.Tokenizer.Encode(Recorded[row].Question, Recorded[row].Context);
        var n = enc.Length;
        var ids = e["input_ids"][row].data<long>().ToArray();
        ids.Take(n).Should().Equal(enc.InputIds, "the tokenizer gives the recorded bert-base-uncased ids");
        ids.Skip(n).All(id => id == 0).Should().BeTrue("then padding");
        return (enc, e["start_logits"][row].to(float64).data<double>().ToArray(), e["end_logits"][row].to(float64).data<double>().ToArray());
    }

    [Theory]
    [InlineData(1, 15, false, true)]
    [InlineData(3, 15, false, true)]
    [InlineData(5, 2, false, true)]
    [InlineData(2, 15, true, true)]
    [InlineData(4, 3, false, false)]
    public void Recorded_logits_decoded_as_hf_give_the_pipelines_answers(int topK, int maxAnswerLen, bool impossible, bool align)
    {
        var p = new QuestionAnsweringParams { TopK = topK, MaxAnswerLen = maxAnswerLen, HandleImpossibleAnswer = impossible, AlignToWords = align };
        var got = pipe.Run(Recorded.Select(r => new QuestionContext(r.Question, r.Context)).ToList(), p);
        for (int row = 0; row < Recorded.Length; row++)
        {
            var expected = Oracle(Recorded[row].Context, [RecordedWindow(row)], pipe.Tokenizer.ClsTokenId, topK, maxAnswerLen, impossible, align);
            expected.Should().NotBeEmpty();
            ShouldEqual(got[row], expected, $"input {row}, top_k {topK}, max_answer_len {maxAnswerLen}, impossible {impossible}, align {align}");
            foreach (var a in got[row]) a.Answer.Should().Be(Recorded[row].Context[a.Start..a.End]);
            if (maxAnswerLen == 2) got[row].Should().OnlyContain(a => a.Answer.Length == 0 || pipe.Tokenizer.Tokenize(a.Answer).Length <= 2 || !align);
        }
    }

    [Fact]
    public void Long_contexts_are_split_into_strided_windows_and_answers_merged()
    {
        const string question = "Who lived in London?";
        var context = string.Join(" ", Enumerable.Repeat("Frankenstein was written by Mary Shelley, who lived in London.", 6));
        var p = new QuestionAnsweringParams { TopK = 4, MaxSeqLen = 40, DocStride = 10 };
        var got = pipe.Run(new QuestionContext(question, context), p);

        var first = pipe.Tokenizer.Encode(question, context, new EncodeOptions { Truncation = TruncationStrategy.OnlySecond, MaxLength = 40, Stride = 10, ReturnOverflowingTokens = true });
        BertEncoding[] windows = [first, .. first.Overflowing];
        windows.Should().HaveCountGreaterThan(2);
        windows.Should().OnlyContain(w => w.Length <= 40);
        var decoded = windows.Select(w =>
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            long[] shape = [1, w.Length];
            var o = pipe.Model.forward(tensor(w.InputIds, shape), tensor(w.AttentionMask, shape), tensor(w.TokenTypeIds, shape));
            return (w, o.StartLogits.to(float64).data<double>().ToArray(), o.EndLogits.to(float64).data<double>().ToArray());
        }).ToList();
        ShouldEqual(got, Oracle(context, decoded, pipe.Tokenizer.ClsTokenId, topK: 4), "4 best over every window");
        pipe.DocStrideOf(new QuestionAnsweringParams()).Should().Be(32, "min(max_seq_len / 2, 128) with max_seq_len = min(384, 64)");
    }

    [Fact]
    public void Batches_of_questions_about_one_context_equal_each_question_alone()
    {
        const string context = "The Eiffel Tower is a wrought iron tower in Paris, France.";
        string[] questions = ["Where is the Eiffel Tower?", "What is the tower made of?", "Which country?"];
        var all = pipe.Run(questions, context);
        for (int i = 0; i < questions.Length; i++)
        {
            var alone = pipe.Run(new QuestionContext(questions[i], context));
            all[i].Select(a => (a.Start, a.End, a.Answer)).Should().Equal(alone.Select(a => (a.Start, a.End, a.Answer)), $"question {i}");
            all[i][0].Score.Should().BeApproximately(alone[0].Score, 1e-5);
        }
    }

    [Fact]
    public void Bad_inputs_fail_in_one_line()
    {
        pipe.Invoking(x => x.Run(new QuestionContext("", "context"))).Should().Throw<ArgumentException>().WithMessage("input 0: the question is empty");
        pipe.Invoking(x => x.Run(new QuestionContext("q?", ""))).Should().Throw<ArgumentException>().WithMessage("input 0: the context is empty");
        pipe.Invoking(x => x.Run(new QuestionContext("q?", "c"), new QuestionAnsweringParams { DocStride = 60, MaxSeqLen = 50 })).Should().Throw<ArgumentException>()
            .WithMessage("doc_stride (60) is larger than max_seq_len (50)");
        pipe.Invoking(x => x.Run(new QuestionContext(string.Join(" ", Enumerable.Repeat("who", 70)), "a context"))).Should().Throw<ArgumentException>()
            .WithMessage("input 0: the question does not leave room for the context*");
        var act = () => QuestionAnsweringPipeline.FromPretrained(Fixtures.Dir("tiny-bert-mlm")).Dispose();
        act.Should().Throw<ArgumentException>().WithMessage("*has no question-answering head (qa_outputs.* were not in the checkpoint)*");
    }
}
