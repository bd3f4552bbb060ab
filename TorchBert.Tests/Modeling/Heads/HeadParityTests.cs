using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Heads;

/// <summary>
/// Every task head against the outputs and losses HF's modeling_bert.py recorded in the fixtures' expected.safetensors:
/// hidden states 1e-5, logits 1e-4, losses 1e-5 relative; eager and SDPA.
/// </summary>
public class HeadParityTests
{
    private const double HiddenTol = 1e-5, LogitTol = 1e-4, LossRelTol = 1e-5;

    public static TheoryData<AttentionImplementation> Attn() => new() { AttentionImplementation.Eager, AttentionImplementation.Sdpa };

    private static PretrainedOptions Options(AttentionImplementation attn) => new() { Device = CPU, AttnImplementation = attn };

    internal static void LossClose(Tensor? actual, Tensor expected, string what)
    {
        actual.Should().NotBeNull($"{what} is computed when labels are given");
        actual!.shape.Should().BeEmpty($"{what} is 0-dimensional, as in HF");
        double a = actual.item<float>();
        double e = expected.item<float>();
        Math.Abs(a - e).Should().BeLessThanOrEqualTo(LossRelTol * Math.Abs(e), $"{what}: {a} vs HF {e}");
    }

    [Theory, MemberData(nameof(Attn))]
    public void Sequence_classification_matches_hf(AttentionImplementation attn)
    {
        using var model = BertForSequenceClassification.FromPretrained(Fixtures.Dir("tiny-bert-seqcls"), Options(attn));
        var e = Fixtures.Expected("tiny-bert-seqcls");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"], outputHiddenStates: true);
        TensorAssert.Close(o.HiddenStates![^1], e["last_hidden_state"], HiddenTol, "last_hidden_state");
        TensorAssert.Close(o.Logits, e["logits"], LogitTol, "logits");
        LossClose(o.Loss, e["loss"], "cross-entropy loss");
        model.Config.Id2Label.Values.Should().Equal("negative", "neutral", "positive");
        o.Named().Select(n => n.Name).Should().Equal("loss", "logits", "hidden_states.0", "hidden_states.1", "hidden_states.2");
        using var bert = model.Bert.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(bert.PoolerOutput!, e["pooler_output"], HiddenTol, "pooler_output");
    }

    [Theory, MemberData(nameof(Attn))]
    public void Token_classification_matches_hf_with_a_label_on_every_position(AttentionImplementation attn)
    {
        using var model = BertForTokenClassification.FromPretrained(Fixtures.Dir("tiny-bert-tokcls"), Options(attn));
        var e = Fixtures.Expected("tiny-bert-tokcls");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"], outputHiddenStates: true);
        TensorAssert.Close(o.HiddenStates![^1], e["last_hidden_state"], HiddenTol, "last_hidden_state");
        TensorAssert.Close(o.Logits, e["logits"], LogitTol, "logits");
        LossClose(o.Loss, e["loss"], "token loss over all 33 positions");
        model.Bert.Pooler.Should().BeNull("HF's BertForTokenClassification has no pooler");
    }

    [Theory, MemberData(nameof(Attn))]
    public void Question_answering_matches_hf(AttentionImplementation attn)
    {
        using var model = BertForQuestionAnswering.FromPretrained(Fixtures.Dir("tiny-bert-qa"), Options(attn));
        var e = Fixtures.Expected("tiny-bert-qa");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"],
            startPositions: e["start_positions"], endPositions: e["end_positions"], outputHiddenStates: true);
        TensorAssert.Close(o.HiddenStates![^1], e["last_hidden_state"], HiddenTol, "last_hidden_state");
        TensorAssert.Close(o.StartLogits, e["start_logits"], LogitTol, "start_logits");
        TensorAssert.Close(o.EndLogits, e["end_logits"], LogitTol, "end_logits");
        LossClose(o.Loss, e["loss"], "QA loss");
        o.Named().Select(n => n.Name).Should().StartWith(["loss", "start_logits", "end_logits"]);
        using var noLoss = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], startPositions: e["start_positions"]);
        noLoss.Loss.Should().BeNull("HF computes the QA loss only when both positions are given");
    }

    [Theory, MemberData(nameof(Attn))]
    public void Multiple_choice_matches_hf_masked_and_unmasked(AttentionImplementation attn)
    {
        using var model = BertForMultipleChoice.FromPretrained(Fixtures.Dir("tiny-bert-multiple-choice"), Options(attn));
        var e = Fixtures.Expected("tiny-bert-multiple-choice");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"]);
        TensorAssert.Close(o.Logits, e["logits"], LogitTol, "logits");
        LossClose(o.Loss, e["loss"], "multiple-choice loss");
        using var nomask = model.forward(e["input_ids"], labels: e["labels"]);
        TensorAssert.Close(nomask.Logits, e["nomask.logits"], LogitTol, "nomask.logits");
        LossClose(nomask.Loss, e["nomask.loss"], "nomask.loss");
        using var bert = model.Bert.forward(e["input_ids"].reshape(-1, 9), e["attention_mask"].reshape(-1, 9), e["token_type_ids"].reshape(-1, 9));
        TensorAssert.Close(bert.PoolerOutput!, e["pooler_output"], HiddenTol, "pooler_output of the flattened (B·C, T) batch");
    }

    [Theory, MemberData(nameof(Attn))]
    public void Next_sentence_prediction_matches_hf(AttentionImplementation attn)
    {
        using var model = BertForNextSentencePrediction.FromPretrained(Fixtures.Dir("tiny-bert-nsp"), Options(attn));
        model.Config.HiddenAct.Should().Be(HiddenAct.Relu);
        var e = Fixtures.Expected("tiny-bert-nsp");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"], outputHiddenStates: true);
        TensorAssert.Close(o.HiddenStates![^1], e["last_hidden_state"], HiddenTol, "last_hidden_state");
        TensorAssert.Close(o.Logits, e["logits"], LogitTol, "logits");
        LossClose(o.Loss, e["loss"], "NSP loss");
    }

    [Theory, MemberData(nameof(Attn))]
    public void Pretraining_matches_hf_and_needs_both_labels_for_a_loss(AttentionImplementation attn)
    {
        using var model = BertForPreTraining.FromPretrained(Fixtures.Dir("tiny-bert-pretraining"), Options(attn));
        model.LoadReport!.NewlyInitialized.Should().BeEmpty();
        model.LoadReport.Tied.Should().Contain(t => t.StartsWith("cls.predictions.decoder.weight"));
        var e = Fixtures.Expected("tiny-bert-pretraining");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"],
            nextSentenceLabel: e["next_sentence_label"], outputHiddenStates: true);
        TensorAssert.Close(o.HiddenStates![^1], e["last_hidden_state"], HiddenTol, "last_hidden_state");
        TensorAssert.Close(o.PredictionLogits, e["prediction_logits"], LogitTol, "prediction_logits");
        TensorAssert.Close(o.SeqRelationshipLogits, e["seq_relationship_logits"], LogitTol, "seq_relationship_logits");
        LossClose(o.Loss, e["loss"], "pre-training loss");
        o.Named().Select(n => n.Name).Should().StartWith(["loss", "prediction_logits", "seq_relationship_logits"]);
        using var onlyMlm = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"]);
        onlyMlm.Loss.Should().BeNull("HF computes no pre-training loss unless both label tensors are given");
    }

    [Fact]
    public void Masked_lm_loss_matches_the_pretraining_fixtures_mlm_part()
    {
        // The pre-training checkpoint's MLM head loaded into BertForMaskedLM: its loss is HF's masked_lm_loss.
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-pretraining"), new PretrainedOptions { Device = CPU });
        model.LoadReport!.Unexpected.Should().Contain(["cls.seq_relationship.weight", "bert.pooler.dense.weight"]);
        var e = Fixtures.Expected("tiny-bert-pretraining");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"]);
        TensorAssert.Close(o.Logits, e["prediction_logits"], LogitTol, "logits");
        LossClose(o.Loss, e["masked_lm_loss"], "masked_lm_loss");
    }

    [Fact]
    public void Pretraining_loss_is_the_sum_of_its_recorded_parts()
    {
        var e = Fixtures.Expected("tiny-bert-pretraining");
        (e["masked_lm_loss"] + e["next_sentence_loss"]).item<float>().Should().BeApproximately(e["loss"].item<float>(), 1e-6f);
    }
}
