using TorchBert.Checkpoints;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Conversion;

public sealed class ConverterTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-convert-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Theory]
    [InlineData("tiny-bert-mlm")]
    [InlineData("tiny-bert-legacy")]
    [InlineData("tiny-bert-relative-key")]
    [InlineData("tiny-bert-gelu-new")]
    public void Hf_folder_round_trips_to_bit_identical_fp32_weights(string fixture)
    {
        var dst = Path.Combine(temp, fixture);
        var report = ModelConverter.Convert(Fixtures.Dir(fixture), dst, new ConvertOptions { Verify = true });
        report.Architecture.Should().Be("BertForMaskedLM");
        report.VerifyMaxAbsDiff.Should().Be(0);
        File.Exists(Path.Combine(dst, "config.json")).Should().BeTrue();
        Directory.GetDirectories(temp).Should().HaveCount(1, "the temporary folder is moved into place");

        using var source = BertForMaskedLM.FromPretrained(Fixtures.Dir(fixture), new PretrainedOptions { Device = CPU });
        using var converted = BertForMaskedLM.FromPretrained(dst, new PretrainedOptions { Device = CPU });
        converted.LoadReport!.Format.Should().Be("safetensors");
        converted.LoadReport.Unexpected.Should().BeEmpty();
        converted.LoadReport.Renamed.Should().BeEmpty("converted folders carry canonical HF names");
        var a = source.state_dict();
        foreach (var (key, value) in converted.state_dict())
            value.allclose(a[key], 0, 0).Should().BeTrue($"{key} is bit-identical");
        using (var reader = SafeTensorsReader.Open(Path.Combine(dst, "model.safetensors")))
            reader.Tensors.Select(t => t.Name).Should().NotContain("cls.predictions.decoder.weight", "tied aliases are omitted as HF's safe serialization does");
    }

    [Fact]
    public void Sharded_safetensors_folder_converts_and_loads_like_the_single_file()
    {
        var src = Directory.CreateDirectory(Path.Combine(temp, "sharded")).FullName;
        File.Copy(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "config.json"), Path.Combine(src, "config.json"));
        File.Copy(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "vocab.txt"), Path.Combine(src, "vocab.txt"));
        var weights = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "model.safetensors"));
        var first = weights.Where(kv => kv.Key.StartsWith("bert.embeddings")).ToList();
        var rest = weights.Except(first).ToList();
        SafeTensorsWriter.Write(Path.Combine(src, "model-00001-of-00002.safetensors"), first);
        SafeTensorsWriter.Write(Path.Combine(src, "model-00002-of-00002.safetensors"), rest);
        var map = first.Select(kv => $"\"{kv.Key}\": \"model-00001-of-00002.safetensors\"")
            .Concat(rest.Select(kv => $"\"{kv.Key}\": \"model-00002-of-00002.safetensors\""));
        File.WriteAllText(Path.Combine(src, "model.safetensors.index.json"), $"{{\"metadata\": {{}}, \"weight_map\": {{{string.Join(", ", map)}}}}}");

        var dst = Path.Combine(temp, "sharded-out");
        var report = ModelConverter.Convert(src, dst, new ConvertOptions { Verify = true });
        report.SourceFormat.Should().StartWith("sharded");
        report.VerifyMaxAbsDiff.Should().Be(0);
        using var model = BertForMaskedLM.FromPretrained(dst, new PretrainedOptions { Device = CPU });
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var mode = inference_mode();
        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(o.Logits, e["logits"], 1e-4, "logits after sharded → converted");
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Reduced_precision_conversion_stays_within_its_precision(ScalarType dtype)
    {
        var dst = Path.Combine(temp, dtype.ToString());
        var report = ModelConverter.Convert(Fixtures.Dir("tiny-bert-mlm"), dst, new ConvertOptions { DType = dtype, Verify = true });
        report.VerifyCosine.Should().BeGreaterThanOrEqualTo(0.999);
        report.BytesWritten.Should().BeLessThan(new FileInfo(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "model.safetensors")).Length * 6 / 10);
        using var reader = SafeTensorsReader.Open(Path.Combine(dst, "model.safetensors"));
        reader.Tensors.Should().OnlyContain(t => t.DType == dtype);
        File.ReadAllText(Path.Combine(dst, "config.json")).Should().Contain(DTypeNames.Name(dtype));
        File.Exists(Path.Combine(dst, "vocab.txt")).Should().BeTrue("tokenizer files travel with the weights");
    }

    [Fact]
    public void Bad_sources_fail_with_one_error_and_leave_the_destination_untouched()
    {
        var noConfig = Directory.CreateDirectory(Path.Combine(temp, "noconfig")).FullName;
        File.Copy(Path.Combine(Fixtures.Dir("tiny-bert-gelu-new"), "model.safetensors"), Path.Combine(noConfig, "model.safetensors"));
        var dst = Path.Combine(temp, "out");
        ((Action)(() => ModelConverter.Convert(noConfig, dst))).Should().Throw<CheckpointException>().WithMessage("*config.json not found*");
        Directory.Exists(dst).Should().BeFalse();

        var corrupt = Directory.CreateDirectory(Path.Combine(temp, "corrupt")).FullName;
        File.Copy(Path.Combine(Fixtures.Dir("tiny-bert-gelu-new"), "config.json"), Path.Combine(corrupt, "config.json"));
        var bytes = File.ReadAllBytes(Path.Combine(Fixtures.Dir("tiny-bert-gelu-new"), "model.safetensors"));
        File.WriteAllBytes(Path.Combine(corrupt, "model.safetensors"), bytes[..(bytes.Length / 2)]);
        ((Action)(() => ModelConverter.Convert(corrupt, dst))).Should().Throw<CheckpointException>().WithMessage("*model.safetensors*");
        Directory.Exists(dst).Should().BeFalse();
        Directory.GetDirectories(temp).Should().NotContain(d => d.Contains(".tmp-"), "the temporary folder is removed");

        var roberta = Directory.CreateDirectory(Path.Combine(temp, "roberta")).FullName;
        File.WriteAllText(Path.Combine(roberta, "config.json"), "{\"model_type\": \"roberta\"}");
        ((Action)(() => ModelConverter.Convert(roberta, dst))).Should().Throw<TorchBert.Configuration.BertConfigException>().WithMessage("*model_type 'roberta'*");

        Directory.CreateDirectory(dst);
        File.WriteAllText(Path.Combine(dst, "keep.txt"), "mine");
        ((Action)(() => ModelConverter.Convert(Fixtures.Dir("tiny-bert-gelu-new"), dst))).Should().Throw<IOException>().WithMessage("*not empty*");
        File.ReadAllText(Path.Combine(dst, "keep.txt")).Should().Be("mine");
    }
}
