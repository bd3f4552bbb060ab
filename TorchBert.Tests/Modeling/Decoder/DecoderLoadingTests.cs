using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Decoder;

/// <summary>
/// Decoder checkpoints through the loading policy and the registry: BertLMHeadModel and BertModel run them (as HF's
/// classes do); an encoder class refuses a decoder config, and cross-attention weights under an encoder config, by name.
/// </summary>
public sealed class DecoderLoadingTests : IDisposable
{
    private static readonly PretrainedOptions Cpu = new() { Device = CPU };
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-decoder-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void BertAutoModel_loads_the_lmhead_fixture_as_BertLMHeadModel_with_hfs_logits()
    {
        using var model = BertAutoModel.FromPretrained(Fixtures.Dir("tiny-bert-lmhead"), Cpu);
        var lm = model.Should().BeOfType<BertLMHeadModel>().Subject;
        BertAutoModel.Architectures.Should().Contain(nameof(BertLMHeadModel));
        lm.LoadReport!.NewlyInitialized.Should().BeEmpty();
        lm.LoadReport.Unexpected.Should().BeEmpty();
        lm.LoadReport.Tied.Should().Contain(t => t.StartsWith("cls.predictions.decoder.weight"));
        lm.state_dict().Keys.Should().Contain("cls.predictions.decoder.weight").And.NotContain(k => k.Contains("pooler"));
        var e = Fixtures.Expected("tiny-bert-lmhead");
        using var mode = inference_mode();
        using var o = lm.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(o.Logits, e["logits"], 1e-4, "logits");
        ReferenceEquals(lm.Cls.Predictions.Decoder.weight, lm.Bert.Embeddings.WordEmbeddingWeight).Should().BeTrue("tied");
    }

    [Fact]
    public void BertModel_runs_a_decoder_checkpoint_causally_as_hf_and_reports_the_head_as_ignored()
    {
        using var model = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-lmhead"), Cpu);
        model.LoadReport!.Unexpected.Should().Contain("cls.predictions.bias");
        model.Pooler.Should().BeNull();
        var e = Fixtures.Expected("tiny-bert-lmhead");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], outputAttentions: true);
        TensorAssert.Close(o.Attentions![1], e["attentions.1"], 1e-5, "causal attentions");
        for (int i = 0; i < 2; i++) TensorAssert.Close(o.PastKeyValues!.Key(i), e[$"past.{i}.key"], 1e-5, $"past.{i}.key");
        o.Named().Select(n => n.Name).Should().Contain(["last_hidden_state", "past_key_values.0.key", "attentions.0"]);
        using var packed = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], skipPadding: true);
        using var padded = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(packed.LastHiddenState, padded.LastHiddenState, 0, "skipPadding is ignored by decoders: every position as HF");
    }

    [Theory]
    [InlineData(typeof(BertForMaskedLM))]
    [InlineData(typeof(BertForSequenceClassification))]
    public void An_encoder_class_refuses_a_decoder_checkpoint_naming_the_class_to_use(Type type)
    {
        var dir = SaveCrossAttentionModel();
        var act = () => BertAutoModel.ForClass(type.Name).FromPretrained(dir, Cpu).Dispose();
        act.Should().Throw<CheckpointException>().WithMessage($"*is_decoder: true and add_cross_attention: true*{type.Name}*BertLMHeadModel*");
    }

    [Fact]
    public void Cross_attention_weights_under_an_encoder_config_are_refused_by_name()
    {
        var dir = SaveCrossAttentionModel();
        var config = BertConfig.FromFile(Path.Combine(dir, "config.json"));
        config.IsDecoder = false;
        config.AddCrossAttention = false;
        config.Save(Path.Combine(dir, "config.json"));
        var act = () => BertForMaskedLM.FromPretrained(dir, Cpu).Dispose();
        act.Should().Throw<CheckpointException>().WithMessage("*bert.encoder.layer.0.crossattention.*BertLMHeadModel*");
        var lm = () => BertLMHeadModel.FromPretrained(dir, Cpu).Dispose();
        lm.Should().Throw<CheckpointException>("the config has no cross-attention: the weights have no place")
            .WithMessage("*crossattention*");
    }

    [Fact]
    public void A_saved_cross_attention_decoder_loads_back_with_the_same_outputs()
    {
        // Save and compare the same instance: Models() seeds the global RNG, which tests running in parallel also draw from.
        var (original, sdpa) = CrossAttentionTests.Models();
        using var _ = original;
        using var __ = sdpa;
        var dir = SaveCrossAttentionModel(original);
        using var loaded = BertLMHeadModel.FromPretrained(dir, Cpu with { AttnImplementation = AttentionImplementation.Eager });
        loaded.Config.AddCrossAttention.Should().BeTrue();
        loaded.LoadReport!.NewlyInitialized.Should().BeEmpty();
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        manual_seed(8);
        var enc = randn(2, 5, 16);
        var ids = randint(1, 64, [2, 6], dtype: int64);
        TensorAssert.Close(loaded.forward(ids, encoderHiddenStates: enc).Logits, original.forward(ids, encoderHiddenStates: enc).Logits, 0, "logits");
    }

    /// <summary>The random cross-attention decoder of <see cref="CrossAttentionTests"/>, saved as an HF folder (tied decoder omitted).</summary>
    private string SaveCrossAttentionModel()
    {
        var (eager, sdpa) = CrossAttentionTests.Models();
        using var _ = eager;
        using var __ = sdpa;
        return SaveCrossAttentionModel(eager);
    }

    private string SaveCrossAttentionModel(BertLMHeadModel eager)
    {
        var dir = Directory.CreateDirectory(Path.Combine(temp, Guid.NewGuid().ToString("N"))).FullName;
        var config = eager.Config.Clone();
        config.Architectures = [nameof(BertLMHeadModel)];
        config.Save(Path.Combine(dir, "config.json"));
        var weights = eager.state_dict().Where(kv => !kv.Key.StartsWith("cls.predictions.decoder.", StringComparison.Ordinal)).ToList();
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), weights);
        return dir;
    }
}
