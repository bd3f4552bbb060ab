using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>FromPretrained on each fixture format and each key-mapping rule, with HF's numbers as the check.</summary>
public sealed class PretrainedLoadingTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-load-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private static void AssertMatchesHf(BertForMaskedLM model, string fixture)
    {
        var e = Fixtures.Expected(fixture);
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(o.Logits, e["logits"], 1e-4, $"{fixture} logits");
        TensorAssert.Close(o.LastHiddenState, e["last_hidden_state"], 1e-5, $"{fixture} last_hidden_state");
    }

    [Theory]
    [InlineData("tiny-bert-mlm", "safetensors")]
    [InlineData("tiny-bert-gelu-new", "safetensors")]
    [InlineData("tiny-bert-relative-key", "safetensors")]
    [InlineData("tiny-bert-legacy", "torch legacy")]
    public void Each_fixture_folder_loads_with_one_call_and_gives_hfs_numbers(string fixture, string format)
    {
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir(fixture));
        model.LoadReport!.Format.Should().Be(format);
        model.training.Should().BeFalse("from_pretrained returns an eval-mode model");
        model.Device.type.Should().Be(DeviceType.CPU);
        AssertMatchesHf(model, fixture);
    }

    [Fact]
    public void Zip_pytorch_model_bin_with_tied_decoder_loads()
    {
        var dir = CopyFixture("tiny-bert-mlm", "config.json", "pytorch_model.bin");
        using var model = BertForMaskedLM.FromPretrained(dir);
        model.LoadReport!.Format.Should().Be("torch zip");
        model.LoadReport.Tied.Should().Contain(t => t.StartsWith("cls.predictions.decoder.weight"));
        AssertMatchesHf(model, "tiny-bert-mlm");
    }

    [Fact]
    public void Legacy_gamma_beta_are_renamed_and_nsp_head_and_position_ids_ignored()
    {
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-legacy"));
        var report = model.LoadReport!;
        report.Renamed.Should().Contain(("bert.embeddings.LayerNorm.gamma", "bert.embeddings.LayerNorm.weight"));
        report.Renamed.Should().Contain(("cls.predictions.transform.LayerNorm.beta", "cls.predictions.transform.LayerNorm.bias"));
        report.Unexpected.Should().BeEquivalentTo("cls.seq_relationship.weight", "cls.seq_relationship.bias", "bert.embeddings.position_ids");
        report.NewlyInitialized.Should().BeEmpty();
    }

    [Fact]
    public void Base_model_from_an_mlm_checkpoint_strips_the_prefix_and_ignores_the_head()
    {
        using var model = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"));
        model.Pooler.Should().BeNull("the checkpoint has no pooler, so none is invented");
        model.LoadReport!.Unexpected.Should().Contain("cls.predictions.bias").And.Contain("cls.predictions.transform.dense.weight");
        model.LoadReport.Renamed.Should().Contain(("bert.embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight"));
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        o.PoolerOutput.Should().BeNull();
        TensorAssert.Close(o.LastHiddenState, e["last_hidden_state"], 1e-5, "last_hidden_state");
    }

    [Fact]
    public void Base_checkpoint_into_mlm_adds_the_prefix_and_reports_the_new_head()
    {
        var dir = WriteVariant("tiny-bert-mlm", w => w
            .Where(kv => kv.Key.StartsWith("bert."))
            .Select(kv => new KeyValuePair<string, Tensor>(kv.Key["bert.".Length..], kv.Value)));
        using var model = BertForMaskedLM.FromPretrained(dir);
        model.LoadReport!.NewlyInitialized.Should().BeEquivalentTo(
            "cls.predictions.bias", "cls.predictions.transform.dense.weight", "cls.predictions.transform.dense.bias",
            "cls.predictions.transform.LayerNorm.weight", "cls.predictions.transform.LayerNorm.bias");
        model.Cls.Predictions.Bias.abs().sum().item<float>().Should().Be(0f, "HF initialises the new bias to zeros");
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(o.LastHiddenState, e["last_hidden_state"], 1e-5, "encoder still loaded");
    }

    [Fact]
    public void Decoder_bias_alone_serves_as_the_head_bias_and_a_stale_decoder_weight_is_tied_away()
    {
        var dir = WriteVariant("tiny-bert-mlm", w => w.Select(kv => kv.Key == "cls.predictions.bias"
                ? new KeyValuePair<string, Tensor>("cls.predictions.decoder.bias", kv.Value)
                : kv)
            .Append(new KeyValuePair<string, Tensor>("cls.predictions.decoder.weight", zeros(30522, 32))));
        using var model = BertForMaskedLM.FromPretrained(dir);
        AssertMatchesHf(model, "tiny-bert-mlm");
    }

    [Fact]
    public void Missing_and_misshaped_keys_are_all_listed_before_anything_is_copied()
    {
        var dir = WriteVariant("tiny-bert-mlm", w => w
            .Where(kv => kv.Key != "bert.encoder.layer.1.output.dense.bias")
            .Select(kv => kv.Key == "bert.embeddings.position_embeddings.weight" ? new(kv.Key, zeros(63, 32)) : kv));
        var act = () => BertForMaskedLM.FromPretrained(dir);
        act.Should().Throw<CheckpointException>()
            .WithMessage("*missing key 'bert.encoder.layer.1.output.dense.bias' (model shape [32])*")
            .WithMessage("*key 'bert.embeddings.position_embeddings.weight': checkpoint shape [63, 32], model shape [64, 32]*");
    }

    [Fact]
    public void Folder_without_config_or_weights_gets_a_clear_error()
    {
        var noConfig = CopyFixture("tiny-bert-gelu-new", "model.safetensors");
        ((Action)(() => BertModel.FromPretrained(noConfig))).Should().Throw<CheckpointException>().WithMessage("*config.json not found*");
        var noWeights = CopyFixture("tiny-bert-gelu-new", "config.json");
        ((Action)(() => BertModel.FromPretrained(noWeights))).Should().Throw<CheckpointException>().WithMessage($"*{noWeights}*");
        ((Action)(() => BertModel.FromPretrained(Path.Combine(temp, "nope")))).Should().Throw<CheckpointException>().WithMessage("*no such model folder*");
    }

    [Theory]
    [InlineData(ScalarType.Float16, 2e-2)]
    // bf16 keeps 8 significant bits: on tiny-bert-mlm the largest element error vs HF fp32 is 0.0996 with F.linear and
    // 0.107 on the oneDNN fast path (mean 0.0114 vs 0.0101: the fused products round once instead of twice).
    [InlineData(ScalarType.BFloat16, 1.25e-1)]
    public void Reduced_precision_weights_stay_close(ScalarType dtype, double tol)
    {
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { DType = dtype, Device = CPU });
        model.DType.Should().Be(dtype);
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var h = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]).LastHiddenState.to(ScalarType.Float32);
        var cos = nn.functional.cosine_similarity(h.flatten(), e["last_hidden_state"].flatten(), dim: 0).item<float>();
        cos.Should().BeGreaterThan(0.999f);
        TensorAssert.Close(h, e["last_hidden_state"], tol, $"{dtype} last_hidden_state");
    }

    private string CopyFixture(string fixture, params string[] files)
    {
        var dir = Directory.CreateDirectory(Path.Combine(temp, Guid.NewGuid().ToString("N"))).FullName;
        foreach (var f in files) File.Copy(Path.Combine(Fixtures.Dir(fixture), f), Path.Combine(dir, f));
        return dir;
    }

    private string WriteVariant(string fixture, Func<IEnumerable<KeyValuePair<string, Tensor>>, IEnumerable<KeyValuePair<string, Tensor>>> edit)
    {
        var dir = CopyFixture(fixture, "config.json");
        var weights = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir(fixture), "model.safetensors"));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), edit(weights).ToList());
        return dir;
    }
}
