using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Heads;

/// <summary>
/// HF's loss rules checked against independent formulas (MSE, BCE-with-logits, -100 and QA clamping), dropout only in
/// train mode, and every bad label as an <see cref="ArgumentException"/> naming the input.
/// </summary>
public class HeadLossTests
{
    private static readonly PretrainedOptions Cpu = new() { Device = CPU };

    private static Dictionary<string, Tensor> Seqcls => Fixtures.Expected("tiny-bert-seqcls");

    private static BertForSequenceClassification Classifier(Action<BertConfig>? configure = null) =>
        BertForSequenceClassification.FromPretrained(Fixtures.Dir("tiny-bert-seqcls"), Cpu with { ConfigureConfig = configure });

    [Fact]
    public void Regression_for_one_label_is_the_squeezed_mse()
    {
        // A base checkpoint with num_labels 1: HF infers regression; loss = mean((logit - label)^2).
        using var model = BertForSequenceClassification.FromPretrained(Fixtures.Dir("tiny-bert-nsp"), Cpu with { ConfigureConfig = c => c.NumLabels = 1 });
        var e = Seqcls;
        using var mode = inference_mode();
        var labels = tensor(new float[] { 0.5f, -1f, 2f });
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: labels);
        var logits = o.Logits.data<float>().ToArray();
        var expected = logits.Zip(new[] { 0.5f, -1f, 2f }, (l, y) => (double)(l - y) * (l - y)).Average();
        o.Loss!.item<float>().Should().BeApproximately((float)expected, 1e-5f);
    }

    [Fact]
    public void Float_labels_with_several_classes_are_multi_label_bce_with_logits()
    {
        using var model = Classifier();
        var e = Seqcls;
        using var mode = inference_mode();
        float[] y = [1, 0, 1, 0, 0, 1, 1, 1, 0];
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: tensor(y, [3, 3]));
        var x = o.Logits.data<float>().ToArray();
        // BCE with logits = mean(max(x, 0) - x·y + log(1 + exp(-|x|))).
        var expected = x.Zip(y, (l, t) => Math.Max(l, 0) - l * t + Math.Log(1 + Math.Exp(-Math.Abs(l)))).Average();
        o.Loss!.item<float>().Should().BeApproximately((float)expected, 1e-5f);
        TensorAssert.Close(o.Logits, e["logits"], 1e-4, "logits");
    }

    [Fact]
    public void Config_problem_type_wins_over_inference()
    {
        using var model = Classifier(c => c.ProblemType = "multi_label_classification");
        var e = Seqcls;
        using var mode = inference_mode();
        var act = () => model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"]);
        act.Should().Throw<ArgumentException>().WithMessage("*labels must be floating-point for multi_label_classification*");
    }

    [Fact]
    public void Labels_of_minus_100_are_ignored_by_the_cross_entropy()
    {
        using var model = Classifier();
        var e = Seqcls;
        using var mode = inference_mode();
        var labels = e["labels"].clone();
        labels[1] = tensor(-100L);
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: labels);
        var logp = nn.functional.log_softmax(o.Logits, 1);
        var l0 = labels[0].item<long>();
        var l2 = labels[2].item<long>();
        var expected = -(logp[0, l0].item<float>() + logp[2, l2].item<float>()) / 2;
        o.Loss!.item<float>().Should().BeApproximately(expected, 1e-5f);
    }

    [Fact]
    public void Qa_positions_past_the_sequence_are_ignored_as_in_hf()
    {
        using var model = BertForQuestionAnswering.FromPretrained(Fixtures.Dir("tiny-bert-qa"), Cpu);
        var e = Fixtures.Expected("tiny-bert-qa");
        using var mode = inference_mode();
        var start = e["start_positions"].clone();
        start[0] = tensor(500L); // clamped to T = 26 and ignored
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], startPositions: start, endPositions: e["end_positions"]);
        var ls = nn.functional.log_softmax(o.StartLogits, 1);
        var le = nn.functional.log_softmax(o.EndLogits, 1);
        double startLoss = -(ls[1, start[1].item<long>()].item<float>() + ls[2, start[2].item<long>()].item<float>()) / 2;
        double endLoss = -Enumerable.Range(0, 3).Select(i => (double)le[i, e["end_positions"][i].item<long>()].item<float>()).Average();
        o.Loss!.item<float>().Should().BeApproximately((float)((startLoss + endLoss) / 2), 1e-5f);
    }

    [Fact]
    public void Dropout_is_active_only_in_train_mode()
    {
        using var model = Classifier();
        var e = Seqcls;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = model.forward(e["input_ids"], e["attention_mask"]).Logits;
        var b = model.forward(e["input_ids"], e["attention_mask"]).Logits;
        TensorAssert.Close(a, b, 0, "eval mode is deterministic");
        model.train();
        manual_seed(1);
        var c = model.forward(e["input_ids"], e["attention_mask"]).Logits;
        (c - a).abs().max().item<float>().Should().BeGreaterThan(1e-4f, "hidden and classifier dropout (p = 0.1) act in train mode");
    }

    public static TheoryData<string, Func<Dictionary<string, Tensor>, Action>, string> BadLabels() => new()
    {
        { "tiny-bert-seqcls", e => () => Classifier().forward(e["input_ids"], labels: tensor(new long[] { 0, 3, 1 })), "labels contains 3 at (1); it must be in [0, 3) (num_labels)*" },
        { "tiny-bert-seqcls", e => () => Classifier().forward(e["input_ids"], labels: tensor(new long[] { 0, 1 })), "labels has shape [2]; expected [3] or [3, 1]*" },
        { "tiny-bert-seqcls", e => () => Classifier().forward(e["input_ids"], labels: tensor(new long[] { 0, -1, 1 })), "labels contains -1 at (1)*" },
        { "tiny-bert-tokcls", e => () => BertForTokenClassification.FromPretrained(Fixtures.Dir("tiny-bert-tokcls"), Cpu).forward(e["input_ids"], labels: e["labels"][.., ..5]), "labels has shape [3, 5]; expected [3, 11]*" },
        { "tiny-bert-tokcls", e => () => BertForTokenClassification.FromPretrained(Fixtures.Dir("tiny-bert-tokcls"), Cpu).forward(e["input_ids"], labels: e["labels"].to(float32)), "labels must be integer class indices*Float32*" },
        { "tiny-bert-qa", e => () => BertForQuestionAnswering.FromPretrained(Fixtures.Dir("tiny-bert-qa"), Cpu).forward(e["input_ids"], startPositions: tensor(new long[] { 3, -2, 4 }), endPositions: e["end_positions"]), "start_positions contains -2 at row 1; a position must be >= 0*" },
        { "tiny-bert-qa", e => () => BertForQuestionAnswering.FromPretrained(Fixtures.Dir("tiny-bert-qa"), Cpu).forward(e["input_ids"], startPositions: e["start_positions"], endPositions: e["end_positions"].to(float32)), "end_positions must be integer token positions*" },
        { "tiny-bert-multiple-choice", e => () => BertForMultipleChoice.FromPretrained(Fixtures.Dir("tiny-bert-multiple-choice"), Cpu).forward(e["input_ids"], labels: tensor(new long[] { 0, 3 })), "labels contains 3 at (1); it must be in [0, 3) (num_choices)*" },
        { "tiny-bert-multiple-choice", e => () => BertForMultipleChoice.FromPretrained(Fixtures.Dir("tiny-bert-multiple-choice"), Cpu).forward(e["input_ids"][0]), "input_ids must be 3-D (batch, choices, sequence)*" },
        { "tiny-bert-nsp", e => () => BertForNextSentencePrediction.FromPretrained(Fixtures.Dir("tiny-bert-nsp"), Cpu).forward(e["input_ids"], labels: tensor(new long[] { 0, 2, 1 })), "labels contains 2 at (1); it must be in [0, 2)*" },
        { "tiny-bert-pretraining", e => () => BertForPreTraining.FromPretrained(Fixtures.Dir("tiny-bert-pretraining"), Cpu).forward(e["input_ids"], labels: e["labels"], nextSentenceLabel: tensor(new long[] { 0, 1 })), "next_sentence_label has shape [2]*" },
        { "tiny-bert-pretraining", e => () => BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-pretraining"), Cpu).forward(e["input_ids"], labels: full(3, 11, 2000L)), "labels contains 2000 at (0, 0); it must be in [0, 2000) (vocab_size)*" },
    };

    [Theory, MemberData(nameof(BadLabels))]
    public void Bad_labels_are_argument_errors_naming_the_input(string fixture, Func<Dictionary<string, Tensor>, Action> call, string message)
    {
        var e = Fixtures.Expected(fixture);
        using var mode = inference_mode();
        call(e).Should().Throw<ArgumentException>().WithMessage(message);
    }
}
