using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>
/// The in-place reads behind the input checks and the all-ones-mask check (no tensor ops on small CPU inputs), their
/// fallbacks (strided views, other dtypes), and the reduced-precision switches users reach (PipelineOptions.DType,
/// CpuFeatures' note). Oracles: the managed arrays the tensors are made from, planted bad values, /proc/cpuinfo.
/// </summary>
public sealed class HostValuesTests
{
    [Fact]
    public void Min_and_max_are_read_in_place_for_contiguous_int64_and_int32()
    {
        using var scope = NewDisposeScope();
        var rng = new Random(5);
        var values = Enumerable.Range(0, 300).Select(_ => (long)rng.Next(-50, 30_000)).ToArray();
        foreach (var t in new[] { tensor(values, [3, 100]), tensor(values.Select(v => (int)v).ToArray(), [3, 100]) })
        {
            HostValues.TryMinMax(t, out var min, out var max).Should().BeTrue(t.dtype.ToString());
            min.Should().Be(values.Min());
            max.Should().Be(values.Max());
        }
        HostValues.TryMinMax(tensor(values, [3, 100]).t(), out _, out _).Should().BeFalse("a transposed view is not read in place");
        HostValues.TryMinMax(tensor(values.Select(v => (float)v).ToArray()), out _, out _).Should().BeFalse("float ids are not read");
    }

    [Fact]
    public void Range_errors_name_the_first_bad_position_in_place_and_on_views()
    {
        var config = Fixtures.Config("tiny-bert-mlm");
        using var scope = NewDisposeScope();
        var ids = new long[] { 101, 7, 8, 102, 101, 9, 10, 102 };
        ids[6] = config.VocabSize;                                                        // row 1, column 2
        var act = () => InputValidation.Check(config, tensor(ids, [2, 4]), null, null, null);
        act.Should().Throw<ArgumentException>().WithMessage($"input_ids contains {config.VocabSize} at position (1, 2)*");
        var int32 = () => InputValidation.Check(config, tensor(ids.Select(v => (int)v).ToArray(), [2, 4]), null, null, null);
        int32.Should().Throw<ArgumentException>().WithMessage($"input_ids contains {config.VocabSize} at position (1, 2)*");
        var view = () => InputValidation.Check(config, tensor(ids, [4, 2]).t(), null, null, null);  // (2, 4) view: [i, j] = ids[2j + i]
        view.Should().Throw<ArgumentException>().WithMessage($"input_ids contains {config.VocabSize} at position (0, 3)*");
        var types = () => InputValidation.Check(config, tensor(new long[] { 101, 102 }, [1, 2]), null, tensor(new long[] { 0, -1 }, [1, 2]), null);
        types.Should().Throw<ArgumentException>().WithMessage("token_type_ids contains -1 at position (0, 1)*");
        InputValidation.Check(config, tensor(new long[] { 0, config.VocabSize - 1 }, [1, 2]), null, null, null); // the limits are fine
    }

    [Fact]
    public void All_ones_is_read_in_place_for_the_usual_mask_dtypes_and_falls_back_elsewhere()
    {
        using var scope = NewDisposeScope();
        foreach (var dtype in new[] { ScalarType.Int64, ScalarType.Int32, ScalarType.Bool, ScalarType.Float32 })
        {
            HostValues.AllOnes(ones(2, 5, dtype: dtype)).Should().BeTrue(dtype.ToString());
            var one = ones(2, 5, dtype: dtype);
            one[1, 3] = zeros(1, dtype: dtype)[0];
            HostValues.AllOnes(one).Should().BeFalse(dtype.ToString());
        }
        HostValues.AllOnes(full(2, 5, 2L)).Should().BeFalse("only 1 means attend");
        HostValues.AllOnes(ones(2, 5, dtype: ScalarType.Float16)).Should().BeNull("float16 masks use the tensor ops");
        var strided = ones(5, 2, dtype: ScalarType.Int64);
        strided[4, 0] = tensor(0L);
        HostValues.AllOnes(strided.t()).Should().BeNull("a transposed view uses the tensor ops");
        AttentionMasks.AttendsEverywhere(strided.t()).Should().BeFalse();
        AttentionMasks.AttendsEverywhere(ones(5, 2, dtype: ScalarType.Int64).t()).Should().BeTrue();
        AttentionMasks.AttendsEverywhere(ones(2, 5, dtype: ScalarType.Float16)).Should().BeTrue();
    }

    [Fact]
    public void Slow_dtype_note_follows_the_cpus_flags()
    {
        var flags = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags"))?.Split(':')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet()
            : null;
        CpuFeatures.SlowDTypeNote(ScalarType.Float32, DeviceType.CPU).Should().BeNull();
        CpuFeatures.SlowDTypeNote(ScalarType.BFloat16, DeviceType.CUDA).Should().BeNull("GPUs run bf16 natively");
        var bf16 = CpuFeatures.SlowDTypeNote(ScalarType.BFloat16, DeviceType.CPU);
        if (flags is null) { bf16.Should().BeNull("unknown CPU: no claim"); return; }
        var native = flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");
        CpuFeatures.NativeBf16.Should().Be(native);
        if (native) bf16.Should().BeNull();
        else bf16.Should().StartWith("bfloat16 on this CPU will be slower than float32").And.Contain("avx512_bf16 or amx_bf16");
        // A fresh once-flag (the process's may already be spent by another test's bf16 pipeline): exactly one line
        // where the CPU emulates bf16, none where it is native; a call without a logger does not spend it.
        var writer = new ListLogger();
        int once = 0;
        CpuFeatures.WarnOnceIfSlow(ScalarType.BFloat16, DeviceType.CPU, null, ref once);
        CpuFeatures.WarnOnceIfSlow(ScalarType.Float32, DeviceType.CPU, writer, ref once);
        CpuFeatures.WarnOnceIfSlow(ScalarType.BFloat16, DeviceType.CPU, writer, ref once);
        CpuFeatures.WarnOnceIfSlow(ScalarType.BFloat16, DeviceType.CPU, writer, ref once);
        writer.Entries.Should().HaveCount(native ? 0 : 1, "once, and only where the CPU emulates bf16");
        if (!native) writer.Entries[0].Should().Be((Microsoft.Extensions.Logging.LogLevel.Warning, bf16!));
    }

    [Fact]
    public void Pipeline_dtype_loads_the_model_in_that_dtype_with_outputs_close_to_float32()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        var log = new ListLogger();
        using var fp32 = SentenceEmbeddingPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU, Logger = log });
        using var bf16 = SentenceEmbeddingPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU, DType = ScalarType.BFloat16, Logger = log });
        fp32.Model.DType.Should().Be(ScalarType.Float32);
        bf16.Model.DType.Should().Be(ScalarType.BFloat16);
        string[] texts = ["the cat sat on the mat", "hello world"];
        var a = fp32.Run(texts);
        var b = bf16.Run(texts);
        for (var i = 0; i < texts.Length; i++)
            TorchBert.Pipelines.Similarity.Cosine(a[i], b[i]).Should().BeGreaterThan(0.99, "bf16 keeps 8 mantissa bits");
    }
}
