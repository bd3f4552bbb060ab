using System.Text.Json;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Checkpoints;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>
/// The load and forward fast paths: checkpoint bytes read straight into uninitialised parameters on the target dtype,
/// HF's initialisation for whatever a checkpoint lacks, and SDPA without a mask when the mask keeps everything.
/// </summary>
public sealed partial class FastPathTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-fast-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    public static TheoryData<string> Formats => new() { "safetensors", "sharded safetensors", "torch zip", "torch legacy" };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Loaded_parameters_equal_the_checkpoint_bit_for_bit(string format)
    {
        var dir = FolderIn(format);
        using var model = BertForMaskedLM.FromPretrained(dir, new PretrainedOptions { Device = CPU });
        model.LoadReport!.Format.Should().Be(format);
        using var reader = CheckpointFiles.OpenFolder(dir);
        var renamed = model.LoadReport.Renamed.ToDictionary(r => r.From, r => r.To);
        var byModelKey = reader.Tensors.ToDictionary(t => renamed.GetValueOrDefault(t.Name, t.Name));

        var compared = 0;
        foreach (var (key, value) in model.state_dict().Where(kv => !kv.Key.StartsWith("cls.predictions.decoder.", StringComparison.Ordinal)))
        {
            using var expected = byModelKey[key].Load();
            TensorCompare.BitEqual(value, expected).Should().BeTrue($"{format}: '{key}' is the checkpoint's tensor");
            compared++;
        }
        compared.Should().Be(model.LoadReport.Loaded).And.BeGreaterThan(30);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Reduced_dtype_parameters_are_the_checkpoint_cast_once(ScalarType dtype)
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        using var model = BertForMaskedLM.FromPretrained(dir, new PretrainedOptions { Device = CPU, DType = dtype });
        var reference = ReferenceSafeTensors.Read(Path.Combine(dir, "model.safetensors"));
        foreach (var (key, p) in model.named_parameters())
        {
            p.dtype.Should().Be(dtype, key);
            using var cast = reference[key].to(dtype);
            TensorCompare.BitEqual(p, cast).Should().BeTrue($"'{key}' is the float32 checkpoint cast to {dtype}");
        }
        foreach (var t in reference.Values) t.Dispose();
    }

    [Fact]
    public void An_integer_dtype_is_refused_before_anything_is_built()
    {
        var act = () => BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU, DType = ScalarType.Int64 });
        act.Should().Throw<ArgumentException>().WithMessage("*Int64*floating-point*");
    }

    [Fact]
    public void Head_keys_a_base_checkpoint_lacks_get_hfs_init_not_leftover_memory()
    {
        var dir = WriteBaseCheckpoint();
        PoisonAllocator();
        using var model = BertForMaskedLM.FromPretrained(dir, new PretrainedOptions { Device = CPU });
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using var scope = NewDisposeScope();
        p["cls.predictions.transform.LayerNorm.weight"].eq(1).all().item<bool>().Should().BeTrue("LayerNorm weight = 1");
        foreach (var bias in new[] { "cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.dense.bias", "cls.predictions.bias" })
            p[bias].eq(0).all().item<bool>().Should().BeTrue($"{bias} = 0");
        var w = p["cls.predictions.transform.dense.weight"];
        w.isfinite().all().item<bool>().Should().BeTrue();
        w.std().item<float>().Should().BeApproximately(0.02f, 0.003f, "normal(0, initializer_range)");
        w.mean().item<float>().Should().BeApproximately(0f, 0.003f);
        foreach (var (key, t) in p) t.isfinite().all().item<bool>().Should().BeTrue($"'{key}' holds real values");
    }

    [Fact]
    public void A_new_model_keeps_hfs_init_and_the_loaded_models_structure()
    {
        var config = Fixtures.Config("tiny-bert-mlm");
        using var fresh = new BertModel(config);
        var dir = Directory.CreateDirectory(Path.Combine(temp, "fresh")).FullName;
        config.Save(Path.Combine(dir, "config.json"));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), fresh.state_dict());
        using var loaded = BertModel.FromPretrained(dir, new PretrainedOptions { Device = CPU });

        loaded.ToString().Should().Be(fresh.ToString());
        loaded.ParameterCount().Should().Be(fresh.ParameterCount());
        loaded.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape)))
            .Should().Equal(fresh.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape))));
        foreach (var (key, t) in fresh.state_dict())
            TensorCompare.BitEqual(loaded.state_dict()[key], t).Should().BeTrue($"round trip of '{key}'");

        using var scope = NewDisposeScope();
        var sd = fresh.state_dict();
        var linear = cat(sd.Where(kv => kv.Key.EndsWith("dense.weight") || kv.Key.EndsWith("query.weight")).Select(kv => kv.Value.flatten()).ToList());
        linear.std().item<float>().Should().BeApproximately(0.02f, 0.001f, "Linear weights ~ N(0, initializer_range)");
        sd["embeddings.word_embeddings.weight"][1..].std().item<float>().Should().BeApproximately(0.02f, 0.001f);
        sd["embeddings.word_embeddings.weight"][0].eq(0).all().item<bool>().Should().BeTrue("padding row = 0");
        foreach (var (key, t) in sd)
        {
            if (key.EndsWith("LayerNorm.weight")) t.eq(1).all().item<bool>().Should().BeTrue(key);
            if (key.EndsWith(".bias")) t.eq(0).all().item<bool>().Should().BeTrue(key);
        }
    }

    [Fact]
    public void A_loaded_model_still_moves_with_to_and_keeps_its_tie()
    {
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU });
        model.to(ScalarType.Float64);
        model.parameters().Should().OnlyContain(p => p.dtype == ScalarType.Float64);
        using var scope = NewDisposeScope();
        using (no_grad()) model.Bert.Embeddings.WordEmbeddingWeight[7].fill_(5.0);
        model.Cls.Predictions.Decoder.weight[7].eq(5.0).all().item<bool>().Should().BeTrue("decoder weight is the word embeddings");
        var ids = tensor(new long[] { 101, 7, 102 }).unsqueeze(0);
        model.forward(ids).Logits.dtype.Should().Be(ScalarType.Float64);
    }

    [Fact]
    public void Loading_or_building_then_disposing_leaves_no_tensor_behind()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        var stats = DisposeScopeManager.Statistics;
        var before = stats.ThreadTotalLiveCount;
        using (var loaded = BertForMaskedLM.FromPretrained(dir, new PretrainedOptions { Device = CPU })) loaded.ParameterCount().Should().BeGreaterThan(0);
        stats.ThreadTotalLiveCount.Should().Be(before, "a loaded model frees every tensor handle it made (a stray one keeps its storage alive until GC)");
        using (var fresh = new BertForMaskedLM(Fixtures.Config("tiny-bert-mlm"))) fresh.ParameterCount().Should().BeGreaterThan(0);
        stats.ThreadTotalLiveCount.Should().Be(before, "HF init leaves no wrapper behind");
    }

    /// <summary>The MLM fixture in <paramref name="format"/>, in a folder of its own.</summary>
    private string FolderIn(string format) => format switch
    {
        "safetensors" => Copy("tiny-bert-mlm", "config.json", "model.safetensors"),
        "torch zip" => Copy("tiny-bert-mlm", "config.json", "pytorch_model.bin"),
        "torch legacy" => Fixtures.Dir("tiny-bert-legacy"),
        "sharded safetensors" => WriteSharded(),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private string Copy(string fixture, params string[] files)
    {
        var dir = Directory.CreateDirectory(Path.Combine(temp, Guid.NewGuid().ToString("N"))).FullName;
        foreach (var f in files) File.Copy(Path.Combine(Fixtures.Dir(fixture), f), Path.Combine(dir, f));
        return dir;
    }

    /// <summary>The MLM fixture split over two safetensors shards with an HF index.</summary>
    private string WriteSharded()
    {
        var dir = Copy("tiny-bert-mlm", "config.json");
        var weights = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "model.safetensors"));
        var map = weights.Keys.ToDictionary(k => k, k => k.Contains("encoder") ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors");
        foreach (var file in map.Values.Distinct())
            SafeTensorsWriter.Write(Path.Combine(dir, file), weights.Where(kv => map[kv.Key] == file).ToList());
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
        foreach (var t in weights.Values) t.Dispose();
        return dir;
    }

    /// <summary>The MLM fixture's encoder only, without the <c>bert.</c> prefix (a BertModel checkpoint).</summary>
    private string WriteBaseCheckpoint()
    {
        var dir = Copy("tiny-bert-mlm", "config.json");
        var weights = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "model.safetensors"));
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), weights
            .Where(kv => kv.Key.StartsWith("bert.", StringComparison.Ordinal))
            .Select(kv => new KeyValuePair<string, Tensor>(kv.Key["bert.".Length..], kv.Value)).ToList());
        foreach (var t in weights.Values) t.Dispose();
        return dir;
    }

    /// <summary>Frees NaN-filled blocks of the head's sizes, so memory handed out uninitialised would show as NaN.</summary>
    private static void PoisonAllocator()
    {
        var blocks = Enumerable.Range(0, 8).SelectMany(_ => new[] { full(32 * 32, float.NaN), full(32, float.NaN), full(30522, float.NaN) }).ToList();
        blocks.ForEach(b => b.Dispose());
    }
}
