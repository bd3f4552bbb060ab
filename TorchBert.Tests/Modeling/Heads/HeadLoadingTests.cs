using TorchBert.Checkpoints;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Heads;

/// <summary>
/// Any BERT checkpoint into any head, by the classes' own loading policies: new heads (and a missing pooler) are
/// initialised and reported, foreign heads are reported as ignored, a mis-shaped head or a decoder checkpoint is an error.
/// </summary>
public sealed class HeadLoadingTests : IDisposable
{
    private static readonly PretrainedOptions Cpu = new() { Device = CPU };
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-heads-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void Mlm_checkpoint_into_a_classifier_with_new_labels_is_the_fine_tuning_start()
    {
        string[] labels = ["games", "sound", "graphics", "science", "math", "net", "mail"];
        using var model = BertForSequenceClassification.FromPretrained(Fixtures.Dir("tiny-bert-mlm"),
            Cpu with { ConfigureConfig = c => c.SetLabels(labels) });
        model.Config.NumLabels.Should().Be(7);
        model.Config.Id2Label[6].Should().Be("mail");
        model.Config.Label2Id["net"].Should().Be(5);
        model.LoadReport!.NewlyInitialized.Should().BeEquivalentTo(
            "bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias");
        model.LoadReport.Unexpected.Should().Contain("cls.predictions.bias");
        using (var scope = NewDisposeScope())
        {
            model.Classifier.bias!.abs().sum().item<float>().Should().Be(0f, "HF initialises a new Linear bias to zeros");
            var std = model.Classifier.weight!.std().item<float>();
            std.Should().BeInRange(0.012f, 0.028f, "HF draws a new Linear weight from N(0, initializer_range = 0.02)");
        }
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], outputHiddenStates: true);
        o.Logits.shape.Should().Equal(3, 7);
        TensorAssert.Close(o.HiddenStates![^1], e["last_hidden_state"], 1e-5, "the encoder is the checkpoint's");
    }

    [Fact]
    public void Head_checkpoint_into_BertModel_keeps_the_pooler_and_ignores_the_head()
    {
        using var model = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-seqcls"), Cpu);
        model.Pooler.Should().NotBeNull();
        model.LoadReport!.Unexpected.Should().BeEquivalentTo("classifier.weight", "classifier.bias");
        var e = Fixtures.Expected("tiny-bert-seqcls");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(o.PoolerOutput!, e["pooler_output"], 1e-5, "pooler_output");
    }

    [Fact]
    public void Checkpoint_without_pooler_into_a_pooled_head_initialises_the_pooler()
    {
        using var model = BertForNextSentencePrediction.FromPretrained(Fixtures.Dir("tiny-bert-tokcls"), Cpu);
        model.LoadReport!.NewlyInitialized.Should().BeEquivalentTo(
            "bert.pooler.dense.weight", "bert.pooler.dense.bias", "cls.seq_relationship.weight", "cls.seq_relationship.bias");
        model.LoadReport.Unexpected.Should().BeEquivalentTo("classifier.weight", "classifier.bias");
    }

    [Fact]
    public void Pooled_checkpoint_into_a_head_without_pooler_ignores_the_pooler_as_hf_declares()
    {
        using var model = BertForQuestionAnswering.FromPretrained(Fixtures.Dir("tiny-bert-nsp"), Cpu);
        model.LoadReport!.Unexpected.Should().BeEquivalentTo("bert.pooler.dense.weight", "bert.pooler.dense.bias", "cls.seq_relationship.weight", "cls.seq_relationship.bias");
        model.LoadReport.NewlyInitialized.Should().BeEquivalentTo("qa_outputs.weight", "qa_outputs.bias");
        var threeLabels = () => BertForQuestionAnswering.FromPretrained(Fixtures.Dir("tiny-bert-seqcls"), Cpu);
        threeLabels.Should().Throw<TorchBert.Configuration.BertConfigException>().WithMessage("*num_labels 2*got 3*");
    }

    [Fact]
    public void Prefixless_base_checkpoint_into_a_head_gets_the_prefix()
    {
        var dir = WriteVariant("tiny-bert-tokcls", w => w
            .Where(kv => kv.Key.StartsWith("bert."))
            .Select(kv => new KeyValuePair<string, Tensor>(kv.Key["bert.".Length..], kv.Value)));
        using var model = BertForTokenClassification.FromPretrained(dir, Cpu);
        model.LoadReport!.Renamed.Should().Contain(("embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight"));
        model.LoadReport.NewlyInitialized.Should().BeEquivalentTo("classifier.weight", "classifier.bias");
        var e = Fixtures.Expected("tiny-bert-tokcls");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], outputHiddenStates: true);
        TensorAssert.Close(o.HiddenStates![^1], e["last_hidden_state"], 1e-5, "encoder");
    }

    [Fact]
    public void Misshaped_head_is_one_error_naming_the_key_and_both_shapes()
    {
        var act = () => BertForSequenceClassification.FromPretrained(Fixtures.Dir("tiny-bert-seqcls"), Cpu with { ConfigureConfig = c => c.NumLabels = 5 });
        var error = act.Should().Throw<CheckpointException>().Which.Message;
        error.Should().Contain("key 'classifier.weight': checkpoint shape [3, 32], model shape [5, 32]")
            .And.Contain("key 'classifier.bias': checkpoint shape [3], model shape [5]")
            .And.Contain("num_labels 5");
    }

    [Fact]
    public void Decoder_config_into_an_encoder_class_is_refused_naming_the_class_to_use()
    {
        var act = () => BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-lmhead"), Cpu);
        act.Should().Throw<CheckpointException>().WithMessage("*is_decoder: true*BertForMaskedLM*BertLMHeadModel*");
    }

    [Fact]
    public void Cross_attention_weights_the_class_cannot_use_are_an_error_naming_them()
    {
        var dir = WriteVariant("tiny-bert-mlm", w => w.Append(new("bert.encoder.layer.0.crossattention.self.query.weight", zeros(32, 32))));
        var act = () => BertForMaskedLM.FromPretrained(dir, Cpu);
        act.Should().Throw<CheckpointException>()
            .WithMessage("*bert.encoder.layer.0.crossattention.self.query.weight*BertLMHeadModel*");
    }

    [Fact]
    public void Unknown_encoder_weights_are_an_error_but_old_buffers_are_not()
    {
        var dir = WriteVariant("tiny-bert-mlm", w => w
            .Append(new("bert.embeddings.distance_embedding.weight", zeros(127, 8)))
            .Append(new("bert.embeddings.position_ids", zeros(1, 64))));
        var act = () => BertForMaskedLM.FromPretrained(dir, Cpu);
        var message = act.Should().Throw<CheckpointException>().Which.Message;
        message.Should().Contain("bert.embeddings.distance_embedding.weight").And.NotContain("position_ids");
    }

    [Theory]
    [InlineData("tiny-bert-mlm", typeof(BertForMaskedLM))]
    [InlineData("tiny-bert-pretraining", typeof(BertForPreTraining))]
    [InlineData("tiny-bert-nsp", typeof(BertForNextSentencePrediction))]
    [InlineData("tiny-bert-seqcls", typeof(BertForSequenceClassification))]
    [InlineData("tiny-bert-multiple-choice", typeof(BertForMultipleChoice))]
    [InlineData("tiny-bert-tokcls", typeof(BertForTokenClassification))]
    [InlineData("tiny-bert-qa", typeof(BertForQuestionAnswering))]
    public void BertAutoModel_picks_the_class_from_architectures(string fixture, Type expected)
    {
        using var model = BertAutoModel.FromPretrained(Fixtures.Dir(fixture), Cpu);
        model.Should().BeOfType(expected);
        model.LoadReport!.NewlyInitialized.Should().BeEmpty();
        model.LoadReport.Unexpected.Should().BeEmpty();
    }

    [Fact]
    public void BertAutoModel_without_architectures_is_BertModel_and_ForClass_names_unknown_classes()
    {
        var dir = WriteVariant("tiny-bert-seqcls", w => w);
        File.WriteAllText(Path.Combine(dir, "config.json"), File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"BertForSequenceClassification\"", ""));
        using var model = BertAutoModel.FromPretrained(dir, Cpu);
        model.Should().BeOfType<BertModel>();
        BertAutoModel.ForClass("BertForQuestionAnswering").Name.Should().Be("BertForQuestionAnswering");
        var act = () => BertAutoModel.ForClass("BertForWhatever");
        act.Should().Throw<CheckpointException>().WithMessage("*BertForWhatever*BertForSequenceClassification*");
    }

    [Fact]
    public void Heads_print_as_pytorch_prints_them()
    {
        using var model = BertForSequenceClassification.FromPretrained(Fixtures.Dir("tiny-bert-seqcls"), Cpu);
        var text = model.ToString();
        text.Should().StartWith("BertForSequenceClassification(\n  (bert): BertModel(\n");
        text.Should().EndWith("  (dropout): Dropout(p=0.1, inplace=False)\n  (classifier): Linear(in_features=32, out_features=3, bias=True)\n)");
        using var pretraining = BertForPreTraining.FromPretrained(Fixtures.Dir("tiny-bert-pretraining"), Cpu);
        pretraining.ToString().Should().Contain("  (cls): BertPreTrainingHeads(\n    (predictions): BertLMPredictionHead(")
            .And.EndWith("    (seq_relationship): Linear(in_features=32, out_features=2, bias=True)\n  )\n)");
        using var qa = BertForQuestionAnswering.FromPretrained(Fixtures.Dir("tiny-bert-qa"), Cpu);
        qa.ToString().Should().EndWith("  (qa_outputs): Linear(in_features=32, out_features=2, bias=True)\n)");
    }

    private string WriteVariant(string fixture, Func<IEnumerable<KeyValuePair<string, Tensor>>, IEnumerable<KeyValuePair<string, Tensor>>> edit)
    {
        var dir = Directory.CreateDirectory(Path.Combine(temp, Guid.NewGuid().ToString("N"))).FullName;
        File.Copy(Path.Combine(Fixtures.Dir(fixture), "config.json"), Path.Combine(dir, "config.json"));
        var weights = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir(fixture), "model.safetensors"));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), edit(weights).ToList());
        return dir;
    }
}

/// <summary>HF's <c>tie_word_embeddings: false</c>: the MLM decoder has its own weight, loaded from the checkpoint.</summary>
public sealed class UntiedDecoderTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-untied-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void An_untied_decoder_weight_is_loaded_and_used()
    {
        var fixture = Fixtures.Dir("tiny-bert-mlm");
        File.WriteAllText(Path.Combine(temp, "config.json"),
            File.ReadAllText(Path.Combine(fixture, "config.json")).Replace("\"model_type\"", "\"tie_word_embeddings\": false, \"model_type\""));
        var weights = ReferenceSafeTensors.Read(Path.Combine(fixture, "model.safetensors"));
        manual_seed(7);
        var decoder = randn(30522, 32) * 0.1f;
        SafeTensorsWriter.Write(Path.Combine(temp, "model.safetensors"), weights.Append(new("cls.predictions.decoder.weight", decoder)).ToList());

        using var model = BertForMaskedLM.FromPretrained(temp, new PretrainedOptions { Device = CPU });
        model.LoadReport!.NewlyInitialized.Should().BeEmpty();
        model.LoadReport.Tied.Should().Equal("cls.predictions.decoder.bias (= cls.predictions.bias)");
        model.state_dict().Should().ContainKey("cls.predictions.decoder.weight");
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        // Independent oracle: HF's transform output (recorded) times the untied decoder, plus the head bias.
        var expected = e["cls.predictions.transform"].matmul(decoder.t()) + weights["cls.predictions.bias"];
        TensorAssert.Close(o.Logits, expected, 1e-4, "logits through the untied decoder");
        model.ParameterCount().Should().Be(1_024_100 + 30522L * 32, "the decoder weight is a parameter of its own");
    }
}
