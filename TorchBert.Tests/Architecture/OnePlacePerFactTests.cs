using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Hub;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Tests.Architecture;

/// <summary>Facts that used to be written in several places (and drifted) now live in one; each is checked against HF's own value.</summary>
public sealed class OnePlacePerFactTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-facts-").FullName;
    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void The_tokenizer_files_are_hfs_and_the_hub_and_the_converter_ask_for_the_same_ones()
    {
        // transformers: BertTokenizerFast.vocab_files_names (vocab.txt, tokenizer.json) + tokenization_utils_base's
        // TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_MAP_FILE, ADDED_TOKENS_FILE
        string[] hf = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"];
        BertTokenizer.FileNames.Should().BeEquivalentTo(hf);
        HubModelFiles.TokenizerFiles.Should().Equal(BertTokenizer.FileNames);

        // the converter copies every one of them, added_tokens.json included (it used to drop it)
        var src = Path.Combine(temp, "src");
        Directory.CreateDirectory(src);
        foreach (var f in Directory.GetFiles(Fixtures.Dir("tiny-bert-mlm"))) File.Copy(f, Path.Combine(src, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(src, "added_tokens.json"), "{\"<ent>\": 1000}");
        File.WriteAllText(Path.Combine(src, "special_tokens_map.json"), "{\"unk_token\": \"[UNK]\"}");
        var report = ModelConverter.Convert(src, Path.Combine(temp, "dst"));
        report.CopiedFiles.Should().BeEquivalentTo("vocab.txt", "special_tokens_map.json", "added_tokens.json");
        File.ReadAllText(Path.Combine(temp, "dst", "added_tokens.json")).Should().Be("{\"<ent>\": 1000}");
    }

    [Fact]
    public void The_weight_files_and_their_order_are_hfs_in_one_list()
    {
        // transformers.utils: SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME, in from_pretrained's order
        CheckpointFiles.WeightFileNames.Should().Equal("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json");
        HubModelFiles.WeightCandidates.Select(c => c.File).Should().Equal(CheckpointFiles.WeightFileNames);
        HubModelFiles.WeightCandidates.Where(c => c.Index).Select(c => c.File).Should().Equal("model.safetensors.index.json", "pytorch_model.bin.index.json");
    }

    [Theory]
    [InlineData("float64", ScalarType.Float64, "F64")]
    [InlineData("float32", ScalarType.Float32, "F32")]
    [InlineData("float16", ScalarType.Float16, "F16")]
    [InlineData("bfloat16", ScalarType.BFloat16, "BF16")]
    public void A_save_says_its_dtype_and_loads_back_in_it(string hfName, ScalarType dtype, string safetensorsName)
    {
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU, DType = dtype });
        var dir = Path.Combine(temp, hfName);
        model.SavePretrained(dir);
        // HF writes str(dtype).split(".")[1]: torch.float64 → "float64" (a float64 save used to say "float32")
        JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!["torch_dtype"]!.GetValue<string>().Should().Be(hfName);
        using (var reader = SafeTensorsReader.Open(Path.Combine(dir, "model.safetensors")))
            reader.Tensors.Should().OnlyContain(t => t.DType == dtype, $"every tensor is {safetensorsName}");
        DTypeNames.TryParse(JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!["torch_dtype"]!.GetValue<string>(), out var back).Should().BeTrue();
        back.Should().Be(dtype);
        using var reloaded = BertForMaskedLM.FromPretrained(dir, new PretrainedOptions { Device = CPU, DType = back });
        reloaded.parameters().Should().OnlyContain(p => p.dtype == dtype);
    }

    [Theory]
    [InlineData("float32", ScalarType.Float32)]
    [InlineData("FP32", ScalarType.Float32)]
    [InlineData("float", ScalarType.Float32)]
    [InlineData("torch.float16", ScalarType.Float16)]
    [InlineData("fp16", ScalarType.Float16)]
    [InlineData("half", ScalarType.Float16)]
    [InlineData("bfloat16", ScalarType.BFloat16)]
    [InlineData(" bf16 ", ScalarType.BFloat16)]
    [InlineData("float64", ScalarType.Float64)]
    [InlineData("double", ScalarType.Float64)]
    public void One_parser_reads_the_names_and_aliases_torch_uses(string name, ScalarType expected)
    {
        // torch's own aliases: torch.half is float16, torch.float is float32, torch.double is float64
        DTypeNames.TryParse(name, out var dtype).Should().BeTrue();
        dtype.Should().Be(expected);
    }

    [Theory]
    [InlineData("int8")]
    [InlineData("fp8")]
    [InlineData("")]
    [InlineData(null)]
    public void Other_dtype_names_are_refused(string? name) => DTypeNames.TryParse(name, out _).Should().BeFalse();

    [Fact]
    public void An_atomic_write_that_fails_leaves_the_old_file_and_no_temporary()
    {
        var path = Path.Combine(temp, "a.json");
        File.WriteAllText(path, "old");
        var act = () => AtomicFile.Write(path, (Stream s) => { s.Write("partial"u8); throw new IOException("disk full (simulated)"); });
        act.Should().Throw<IOException>().WithMessage("disk full (simulated)");
        File.ReadAllText(path).Should().Be("old");
        Directory.GetFiles(temp).Should().Equal(path);

        AtomicFile.WriteAllText(path, "new");
        File.ReadAllText(path).Should().Be("new");
        Directory.GetFiles(temp).Should().Equal(path);
    }

    [Fact]
    public void A_staged_folder_replaces_the_old_one_whole()
    {
        var dir = Path.Combine(temp, "model");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "old.txt"), "old");
        var staged = AtomicFile.StagingDirectory(dir);
        Directory.CreateDirectory(staged);
        File.WriteAllText(Path.Combine(staged, "new.txt"), "new");
        AtomicFile.ReplaceDirectory(staged, dir);
        Directory.GetFiles(dir).Select(Path.GetFileName).Should().Equal("new.txt");
        Directory.GetDirectories(temp).Should().Equal(dir);
    }
}
