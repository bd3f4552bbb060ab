using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

/// <summary>
/// text-classification and zero-shot against HF's postprocessing re-done here by hand: logits from the model on the
/// tokenizer's ids, then numpy-style softmax / sigmoid, argmax and sorting (text_classification.py,
/// zero_shot_classification.py).
/// </summary>
public sealed class TextClassificationPipelineTests : IClassFixture<TextClassificationPipelineTests.Models>
{
    public sealed class Models : IDisposable
    {
        public TextClassificationPipeline Classify { get; } = TextClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls"), new PipelineOptions { Device = CPU });
        public ZeroShotClassificationPipeline ZeroShot { get; } = ZeroShotClassificationPipeline.FromPretrained(TaskPipelineFixtures.Nli(), new PipelineOptions { Device = CPU });
        public void Dispose() { Classify.Dispose(); ZeroShot.Dispose(); }
    }

    private readonly Models m;
    public TextClassificationPipelineTests(Models m) => this.m = m;

    private static readonly string[] Labels = ["negative", "neutral", "positive"];

    internal static double[] ModelLogits(BertPreTrainedModel model, BertEncoding e)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        long[] shape = [1, e.Length];
        var ids = tensor(e.InputIds, shape);
        var types = tensor(e.TokenTypeIds, shape);
        var mask = tensor(e.AttentionMask, shape);
        var logits = model switch
        {
            BertForSequenceClassification s => s.forward(ids, mask, types).Logits,
            BertForTokenClassification t => t.forward(ids, mask, types).Logits,
            _ => throw new ArgumentException(model.GetType().Name),
        };
        return logits.to(float64).data<double>().ToArray();
    }

    private static double[] Softmax(double[] x) { var e = x.Select(v => Math.Exp(v - x.Max())).ToArray(); return e.Select(v => v / e.Sum()).ToArray(); }
    private static double[] Sigmoid(double[] x) => x.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();

    private double[] Logits(string text, string? pair = null) => ModelLogits(m.Classify.Model, m.Classify.Tokenizer.Encode(text, pair));

    private static void ShouldMatch(IReadOnlyList<LabelScore> got, IEnumerable<(string Label, double Score)> expected, string because)
    {
        var e = expected.ToList();
        got.Select(g => g.Label).Should().Equal(e.Select(x => x.Label), because);
        got.Select(g => g.Score).Should().Equal(e.Select(x => x.Score), (a, b) => Math.Abs(a - b) < 1e-5, because);
    }

    [Fact]
    public void Default_is_the_best_label_with_its_softmax_score()
    {
        foreach (var text in new[] { "the cat sat on the mat.", "in the end, of and the", "東京 !" })
        {
            var p = Softmax(Logits(text));
            var best = Array.IndexOf(p, p.Max());
            ShouldMatch(m.Classify.Run(text), [(Labels[best], p[best])], text);
        }
        m.Classify.DefaultFunction.Should().Be(ClassificationFunction.Softmax, "3 labels, no problem_type");
    }

    [Fact]
    public void Top_k_all_and_n_are_sorted_by_score_and_functions_apply()
    {
        const string text = "of the and in.";
        var logits = Logits(text);
        var all = Softmax(logits).Select((s, i) => (Labels[i], s)).OrderByDescending(x => x.s).ToList();
        ShouldMatch(m.Classify.Run(text, new TextClassificationParams { TopK = null }), all, "top_k=None: every label, best first");
        ShouldMatch(m.Classify.Run(text, new TextClassificationParams { TopK = 2 }), all.Take(2), "top_k=2");
        ShouldMatch(m.Classify.Run(text, new TextClassificationParams { TopK = null, Function = ClassificationFunction.Sigmoid }),
            Sigmoid(logits).Select((s, i) => (Labels[i], s)).OrderByDescending(x => x.s), "sigmoid");
        ShouldMatch(m.Classify.Run(text, new TextClassificationParams { TopK = null, Function = ClassificationFunction.None }),
            logits.Select((s, i) => (Labels[i], s)).OrderByDescending(x => x.s), "none: raw logits");
        m.Classify.Invoking(p => p.Run(text, new TextClassificationParams { TopK = 0 })).Should().Throw<ArgumentException>().WithMessage("top_k must be >= 1*");
    }

    [Fact]
    public void Pairs_are_encoded_as_text_and_text_pair()
    {
        var p = Softmax(Logits("the cat", "the mat and the cat"));
        var got = m.Classify.Run(new TextPair("the cat", "the mat and the cat"), new TextClassificationParams { TopK = null });
        ShouldMatch(got, p.Select((s, i) => (Labels[i], s)).OrderByDescending(x => x.s), "pair");
        // and differs from the first text alone, so the pair really went in
        Math.Abs(got.Single(g => g.Label == "neutral").Score - Softmax(Logits("the cat"))[1]).Should().BeGreaterThan(1e-4);
    }

    [Fact]
    public void Multi_label_or_single_label_models_default_to_sigmoid()
    {
        var dir = TaskPipelineFixtures.Folder("tiny-bert-seqcls", "multilabel", c => c["problem_type"] = "multi_label_classification");
        using var pipe = TextClassificationPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU });
        pipe.DefaultFunction.Should().Be(ClassificationFunction.Sigmoid);
        var s = Sigmoid(ModelLogits(pipe.Model, pipe.Tokenizer.Encode("the end")));
        ShouldMatch(pipe.Run("the end", new TextClassificationParams { TopK = null }), s.Select((v, i) => (Labels[i], v)).OrderByDescending(x => x.v), "multi-label");
    }

    [Fact]
    public void Long_inputs_fail_unless_truncation_is_asked_for()
    {
        var words = string.Join(' ', Enumerable.Repeat("the", 70));
        m.Classify.Invoking(p => p.Run(words)).Should().Throw<ArgumentException>()
            .WithMessage("input 0 is 72 tokens long; the model takes at most 64 (max_position_embeddings 64). Shorten it or enable truncation.");
        using var truncating = TextClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls"), new PipelineOptions { Device = CPU, Truncation = true });
        var cut = Softmax(Logits(string.Join(' ', Enumerable.Repeat("the", 62))));
        ShouldMatch(truncating.Run(words, new TextClassificationParams { TopK = null }), cut.Select((v, i) => (Labels[i], v)).OrderByDescending(x => x.v), "64 tokens kept");
        using var shorter = TextClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls"), new PipelineOptions { Device = CPU, MaxLength = 10, Truncation = true });
        var ten = Softmax(Logits(string.Join(' ', Enumerable.Repeat("the", 8))));
        ShouldMatch(shorter.Run(words, new TextClassificationParams { TopK = null }), ten.Select((v, i) => (Labels[i], v)).OrderByDescending(x => x.v), "max_length 10");
    }

    [Fact]
    public void Batches_and_sorted_batches_give_the_per_input_results()
    {
        var texts = Enumerable.Range(0, 21).Select(i => string.Join(' ', Enumerable.Repeat(i % 3 == 0 ? "the" : "of and", 1 + i % 7))).ToArray();
        using var small = new TextClassificationPipeline(TextClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls")).Model,
            m.Classify.Tokenizer, new PipelineOptions { Device = CPU, BatchSize = 4 });
        var all = small.Run(texts, new TextClassificationParams { TopK = null });
        for (int i = 0; i < texts.Length; i++)
            ShouldMatch(all[i], Softmax(Logits(texts[i])).Select((v, k) => (Labels[k], v)).OrderByDescending(x => x.v), $"input {i}");
    }

    [Fact]
    public void A_checkpoint_without_the_classifier_is_refused()
    {
        var act = () => TextClassificationPipeline.FromPretrained(Fixtures.Dir("tiny-bert-mlm")).Dispose();
        act.Should().Throw<ArgumentException>().WithMessage("*tiny-bert-mlm/model.safetensors has no sequence-classification head (bert.pooler.*, classifier.* were not in the checkpoint): text-classification would be random");
    }

    // ---------------------------------------------------------------- zero-shot

    private double[] NliLogits(string sequence, string hypothesis) =>
        ModelLogits(m.ZeroShot.Model, m.ZeroShot.Tokenizer.Encode(sequence, hypothesis));

    [Fact]
    public void Zero_shot_softmaxes_entailment_over_the_labels()
    {
        string[] labels = ["the", "of", "and"];
        const string text = "in the end";
        m.ZeroShot.EntailmentId.Should().Be(2);
        var entail = labels.Select(l => NliLogits(text, $"This example is {l}.")[2]).ToArray();
        var exp = entail.Select(Math.Exp).ToArray();
        var scores = exp.Select(e => e / exp.Sum()).ToArray();
        var order = Enumerable.Range(0, 3).OrderByDescending(i => scores[i]).ToArray();
        var got = m.ZeroShot.Run(text, new ZeroShotParams { CandidateLabels = labels });
        got.Sequence.Should().Be(text);
        got.Labels.Should().Equal(order.Select(i => labels[i]));
        got.Scores.Should().Equal(order.Select(i => scores[i]), (a, b) => Math.Abs(a - b) < 1e-5);
        got.Scores.Sum().Should().BeApproximately(1, 1e-5);
    }

    [Fact]
    public void Zero_shot_multi_label_and_templates_score_each_label_on_its_own()
    {
        string[] labels = ["the", "of"];
        const string text = "and in";
        var p = new ZeroShotParams { CandidateLabels = labels, MultiLabel = true, HypothesisTemplate = "of {} and" };
        var scores = labels.Select(l =>
        {
            var z = NliLogits(text, $"of {l} and");
            return Math.Exp(z[2]) / (Math.Exp(z[0]) + Math.Exp(z[2]));   // [contradiction, entailment] softmax
        }).ToArray();
        var got = m.ZeroShot.Run(text, p);
        var order = Enumerable.Range(0, 2).OrderByDescending(i => scores[i]).ToArray();
        got.Labels.Should().Equal(order.Select(i => labels[i]));
        got.Scores.Should().Equal(order.Select(i => scores[i]), (a, b) => Math.Abs(a - b) < 1e-5);

        // a single label is scored the multi-label way too (HF)
        var one = m.ZeroShot.Run(text, new ZeroShotParams { CandidateLabels = ["the"] });
        one.Scores.Single().Should().BeApproximately(Math.Exp(NliLogits(text, "This example is the.")[2]) /
            (Math.Exp(NliLogits(text, "This example is the.")[0]) + Math.Exp(NliLogits(text, "This example is the.")[2])), 1e-5);
    }

    [Fact]
    public void Zero_shot_bad_inputs_fail_in_one_line()
    {
        m.ZeroShot.Invoking(z => z.Run("the", new ZeroShotParams())).Should().Throw<ArgumentException>().WithMessage("at least one candidate label is needed");
        m.ZeroShot.Invoking(z => z.Run("the", new ZeroShotParams { CandidateLabels = ["a"], HypothesisTemplate = "no slot" })).Should()
            .Throw<ArgumentException>().WithMessage("the hypothesis template \"no slot\" has no {} where the label should go");
        m.ZeroShot.Invoking(z => z.Run("", new ZeroShotParams { CandidateLabels = ["a"] })).Should().Throw<ArgumentException>().WithMessage("input 0 is empty");
        ZeroShotParams.ParseLabels(" a, b ,,c ").Should().Equal("a", "b", "c");
        var act = () => ZeroShotClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls")).Dispose();
        act.Should().Throw<ArgumentException>().WithMessage("*config label2id (negative, neutral, positive) has no label starting with 'entail'*");
        // entailment first: contradiction is then the last label (HF's -1)
        using var first = ZeroShotClassificationPipeline.FromPretrained(TaskPipelineFixtures.Nli(["ENTAILMENT", "neutral", "contradiction"]), new PipelineOptions { Device = CPU });
        first.EntailmentId.Should().Be(0);
        var z = ModelLogits(first.Model, first.Tokenizer.Encode("the", "This example is of."));
        first.Run("the", new ZeroShotParams { CandidateLabels = ["of"] }).Scores.Single().Should().BeApproximately(Math.Exp(z[0]) / (Math.Exp(z[2]) + Math.Exp(z[0])), 1e-5);
    }
}
