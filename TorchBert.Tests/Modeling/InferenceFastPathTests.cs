using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using TorchBert.Checkpoints;
using TorchBert.Modeling;
using TorchBert.Tests.Checkpoints;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>
/// The oneDNN inference fast path (packed Linear weights, fused GELU/tanh/residual add): the same numbers as the eager
/// F.linear path and as HF's recorded outputs on every fixture, heads included, padded and unpadded; the plain weights
/// come back bit for bit for state_dict, saving and training; the per-model switch falls back to F.linear.
/// </summary>
public sealed class InferenceFastPathTests : IDisposable
{
    private const double Fp32Tol = 1e-5;
    private readonly string temp = Directory.CreateTempSubdirectory("torchbert-onednn-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    /// <summary>Every fixture with a model (the training-step fixture is a training oracle, not a model).</summary>
    public static TheoryData<string> ModelFixtures => new()
    {
        "tiny-bert-mlm", "tiny-bert-gelu-new", "tiny-bert-relative-key", "tiny-bert-legacy", "tiny-bert-lmhead",
        "tiny-bert-multiple-choice", "tiny-bert-nsp", "tiny-bert-pretraining", "tiny-bert-qa", "tiny-bert-seqcls",
        "tiny-bert-tokcls",
    };

    private static bool ExpectAvailable =>
        RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64;

    /// <summary>The groups every forward runs: the encoder layers' (heads may have a pooler or transform they don't use).</summary>
    private static List<FastLinears> EncoderGroups(BertPreTrainedModel model) =>
        model.modules().Where(m => m is BertSelfAttention or BertSelfOutput or BertIntermediate or BertOutput)
            .OfType<IFastLinearOwner>().SelectMany(o => o.FastLinearGroups).ToList();

    private static BertPreTrainedModel Load(string fixture, ScalarType dtype = ScalarType.Float32)
    {
        var model = BertAutoModel.FromPretrained(Fixtures.Dir(fixture), new PretrainedOptions { Device = CPU, DType = dtype });
        model.eval();
        return model;
    }

    /// <summary>The fixture's recorded inputs (padded: its attention mask has zeros) and, unpadded, the same ids without a mask.</summary>
    private static IEnumerable<(string Name, ForwardInputs Inputs)> InputsOf(Dictionary<string, Tensor> e)
    {
        yield return ("padded", new ForwardInputs { InputIds = e["input_ids"], AttentionMask = e["attention_mask"], TokenTypeIds = e["token_type_ids"] });
        yield return ("unpadded", new ForwardInputs { InputIds = e["input_ids"], TokenTypeIds = e["token_type_ids"] });
    }

    private static List<(string Name, Tensor Value)> Run(BertPreTrainedModel model, ForwardInputs inputs)
    {
        using var mode = inference_mode();
        using var output = model.Forward(inputs with { OutputHiddenStates = true });
        return output.Named().Select(n => (n.Name, n.Value.to(float32).clone())).ToList();
    }

    [Fact]
    public void The_ops_are_available_on_linux_x64()
    {
        if (!ExpectAvailable) return; // elsewhere the fallback is the documented behaviour
        InferenceFastPath.IsAvailable.Should().BeTrue(InferenceFastPath.Status);
        InferenceFastPath.Status.Should().Contain("mkldnn::_linear_pointwise");
    }

    [Fact]
    public void The_loaders_logger_hears_once_what_the_fast_path_runs_on()
    {
        var logger = new ListLogger();
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var model = BertAutoModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU, Logger = logger });
        model.eval();
        model.Logger.Should().BeSameAs(logger, "FromPretrained hands PretrainedOptions.Logger to the model");
        Run(model, InputsOf(e).First().Inputs);
        Run(model, InputsOf(e).First().Inputs);
        var notes = logger.Entries.Where(x => x.Message.StartsWith("oneDNN linear", StringComparison.Ordinal)).ToList();
        if (ExpectAvailable)
            notes.Should().ContainSingle().Which.Should().Be((LogLevel.Information, "oneDNN linear: mkldnn::_linear_pointwise with packed weights"));
        else
            notes.Should().ContainSingle().Which.Level.Should().Be(LogLevel.Warning, "elsewhere the fallback to F.linear is said once");
        foreach (var t in e.Values) t.Dispose();
    }

    [Theory, MemberData(nameof(ModelFixtures))]
    public void Fast_path_matches_eager_and_hf_on_every_fixture(string fixture)
    {
        var e = Fixtures.Expected(fixture);
        using var fast = Load(fixture);
        using var eager = Load(fixture);
        eager.UseFastPath = false;
        foreach (var (name, inputs) in InputsOf(e))
        {
            var got = Run(fast, inputs);
            var want = Run(eager, inputs);
            if (ExpectAvailable)
                EncoderGroups(fast).Should().HaveCount(4 * fast.Config.NumHiddenLayers)
                    .And.OnlyContain(g => g.IsPacked && g.IsReleased, $"{fixture} {name}: every encoder Linear ran packed");
            eager.FastLinearGroups().Should().OnlyContain(g => !g.IsPacked, "the switched-off model runs F.linear");
            got.Select(g => g.Name).Should().Equal(want.Select(w => w.Name));
            for (var i = 0; i < got.Count; i++)
            {
                // Hidden states (LayerNorm'd, O(1)) within 1e-5 absolute; logits (up to ~10) within 1e-5 of their scale.
                var scale = got[i].Name.Contains("logits") ? Math.Max(1.0, want[i].Value.abs().max().item<float>()) : 1.0;
                TensorAssert.Close(got[i].Value, want[i].Value, Fp32Tol * scale, $"{fixture} {name} {got[i].Name} (fast vs eager)");
            }
            if (name != "padded") continue;
            // And HF's own numbers (recorded by the fixture script) for the outputs it recorded.
            foreach (var (key, value) in got)
            {
                var hfKey = key switch { "logits" when e.ContainsKey("prediction_logits") => "prediction_logits", _ => key };
                if (e.TryGetValue(hfKey, out var hf) && hf.shape.SequenceEqual(value.shape) && key != "loss")
                    TensorAssert.Close(value, hf, key.Contains("logits") ? 1e-4 : Fp32Tol, $"{fixture} {key} (fast vs HF)");
            }
        }
        foreach (var t in e.Values) t.Dispose();
    }

    [Theory]
    [InlineData("tiny-bert-mlm")]
    [InlineData("tiny-bert-gelu-new")]
    [InlineData("tiny-bert-seqcls")]
    public void Bf16_fast_path_matches_the_bf16_eager_path(string fixture)
    {
        var e = Fixtures.Expected(fixture);
        using var fast = Load(fixture, ScalarType.BFloat16);
        using var eager = Load(fixture, ScalarType.BFloat16);
        eager.UseFastPath = false;
        var inputs = InputsOf(e).First().Inputs;
        var got = Run(fast, inputs);
        var want = Run(eager, inputs);
        for (var i = 0; i < got.Count; i++)
        {
            // bf16 keeps 8 significant bits (relative step 2^-8 ≈ 0.0039); two products that round in a different order
            // may differ by a few steps per layer. Bound: 4% of the output's scale (values here are O(1)).
            var scale = Math.Max(1.0, want[i].Value.abs().max().item<float>());
            TensorAssert.Close(got[i].Value, want[i].Value, 0.04 * scale, $"{fixture} bf16 {got[i].Name}");
        }
        if (ExpectAvailable && CpuFeatures.NativeBf16 == true)
            EncoderGroups(fast).Should().OnlyContain(g => g.IsPacked, "bf16 runs on oneDNN where the CPU has AVX512_BF16");
        foreach (var t in e.Values) t.Dispose();
    }

    [Fact]
    public void State_dict_and_saving_after_fast_inference_are_the_checkpoint_bit_for_bit()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var model = Load("tiny-bert-mlm");
        Run(model, InputsOf(e).First().Inputs);
        if (ExpectAvailable) EncoderGroups(model).Should().OnlyContain(g => g.IsReleased, "the plain weights were released");

        var checkpoint = ReferenceSafeTensors.Read(Path.Combine(dir, "model.safetensors"));
        var state = model.state_dict();
        model.FastLinearGroups().Should().OnlyContain(g => !g.IsReleased, "state_dict put the plain weights back");
        foreach (var (key, expected) in checkpoint)
            TensorCompare.BitEqual(state[key], expected).Should().BeTrue($"'{key}' after fast inference is the checkpoint's");

        // Another fast forward keeps the plain weights (the dictionary holds them) and still uses the packed copy.
        var again = Run(model, InputsOf(e).First().Inputs);
        TensorAssert.Close(again.First(o => o.Name == "logits").Value, e["logits"], 1e-4, "logits after state_dict");
        foreach (var (key, expected) in checkpoint)
            TensorCompare.BitEqual(state[key], expected).Should().BeTrue($"'{key}' stays valid after another inference");

        using var saved = Load("tiny-bert-mlm");
        Run(saved, InputsOf(e).First().Inputs);
        var outDir = Path.Combine(temp, "saved");
        saved.SavePretrained(outDir);
        using var reader = CheckpointFiles.OpenFolder(outDir);
        foreach (var t in reader.Tensors.Where(t => checkpoint.ContainsKey(t.Name)))
        {
            using var value = t.Load();
            TensorCompare.BitEqual(value, checkpoint[t.Name]).Should().BeTrue($"saved '{t.Name}' is the checkpoint's");
        }
        foreach (var t in checkpoint.Values.Concat(e.Values)) t.Dispose();
    }

    [Fact]
    public void Training_after_fast_inference_sees_the_normal_parameters_and_their_gradients()
    {
        var e = Fixtures.Expected("tiny-bert-seqcls");
        using var model = Load("tiny-bert-seqcls");
        var before = Run(model, InputsOf(e).First().Inputs);
        var checkpoint = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir("tiny-bert-seqcls"), "model.safetensors"));

        model.train();
        model.FastLinearGroups().Should().OnlyContain(g => !g.IsPacked, "train() drops the packed copies");
        using (var output = model.Forward(new ForwardInputs
               {
                   InputIds = e["input_ids"], AttentionMask = e["attention_mask"], TokenTypeIds = e["token_type_ids"], Labels = e["labels"],
               }))
            output.Loss!.backward();
        foreach (var (name, p) in model.named_parameters().Where(p => p.name.Contains("encoder.layer")))
        {
            if (checkpoint.TryGetValue(name, out var expected))
                TensorCompare.BitEqual(p.detach(), expected).Should().BeTrue($"'{name}' is the checkpoint's value in training");
            if (name.EndsWith("weight", StringComparison.Ordinal) && !name.Contains("LayerNorm"))
            {
                p.grad.Should().NotBeNull($"'{name}' gets a gradient");
                p.grad!.isfinite().all().item<bool>().Should().BeTrue($"'{name}' gradient is finite");
                p.grad!.abs().sum().item<float>().Should().BeGreaterThan(0, $"'{name}' gradient flows");
            }
        }

        model.eval();
        model.zero_grad();
        var after = Run(model, InputsOf(e).First().Inputs);
        for (var i = 0; i < before.Count; i++)
            TensorAssert.Close(after[i].Value, before[i].Value, Fp32Tol, $"{after[i].Name}: eval again after train()");
        foreach (var t in checkpoint.Values.Concat(e.Values)) t.Dispose();
    }

    [Fact]
    public void Grad_enabled_forward_falls_back_to_f_linear_with_the_same_numbers()
    {
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var model = Load("tiny-bert-mlm");
        var inputs = InputsOf(e).First().Inputs;
        var fast = Run(model, inputs);
        using var output = model.Forward(inputs); // autograd on: eager F.linear on the restored weights
        model.FastLinearGroups().Should().OnlyContain(g => !g.IsPacked && !g.IsReleased);
        TensorAssert.Close(output.Named().First(n => n.Name == "logits").Value.detach(), fast.First(n => n.Name == "logits").Value, 1e-4, "logits");
        TensorAssert.Close(output.Named().First(n => n.Name == "logits").Value.detach(), e["logits"], 1e-4, "logits vs HF");
        foreach (var t in e.Values) t.Dispose();
    }

    [Fact]
    public void Switching_a_model_off_restores_its_weights_and_runs_f_linear()
    {
        var e = Fixtures.Expected("tiny-bert-gelu-new");
        using var model = Load("tiny-bert-gelu-new");
        var inputs = InputsOf(e).First().Inputs;
        Run(model, inputs);
        model.UseFastPath = false;
        model.FastLinearGroups().Should().OnlyContain(g => !g.IsPacked && !g.IsReleased);
        var eager = Run(model, inputs);
        model.FastLinearGroups().Should().OnlyContain(g => !g.IsPacked, "off stays off");
        TensorAssert.Close(eager.First(n => n.Name == "logits").Value, e["logits"], 1e-4, "F.linear logits vs HF");
        foreach (var t in e.Values) t.Dispose();
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("false", true)]
    [InlineData(" OFF ", true)]
    [InlineData("1", false)]
    [InlineData(null, false)]
    [InlineData("", false)]
    public void The_environment_switch_reads_0_false_off_as_off(string? value, bool off) =>
        InferenceFastPath.IsOff(value).Should().Be(off);

    [Fact]
    public void Concurrent_inference_on_one_model_agrees()
    {
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var model = Load("tiny-bert-mlm");
        var inputs = InputsOf(e).First().Inputs;
        var results = new List<(string, Tensor)>[4];
        Parallel.For(0, results.Length, i => results[i] = Run(model, inputs));
        foreach (var r in results)
            TensorAssert.Close(r.First(n => n.Item1 == "logits").Item2, e["logits"], 1e-4, "logits from concurrent callers");
        foreach (var t in e.Values) t.Dispose();
    }

    [Fact]
    public void The_op_archive_is_a_stored_zip_with_the_torchscript_records()
    {
        using var zip = new System.IO.Compression.ZipArchive(new MemoryStream(OneDnn.Archive()));
        zip.Entries.Select(x => x.FullName).Should().BeEquivalentTo("archive/data.pkl", "archive/code/__torch__.py", "archive/constants.pkl", "archive/version");
        zip.Entries.Should().OnlyContain(x => x.CompressedLength == x.Length, "records are stored uncompressed, as torch.jit.save writes them");
    }

    [Fact]
    public void Row_buckets_keep_every_count_to_64_then_eight_per_octave_with_at_most_an_eighth_of_padding()
    {
        for (long rows = 0; rows <= RowBuckets.Exact; rows++) RowBuckets.Of(rows).Should().Be(rows);
        var buckets = new HashSet<long>();
        for (long rows = RowBuckets.Exact + 1; rows <= 1 << 15; rows++)
        {
            var bucket = RowBuckets.Of(rows);
            bucket.Should().BeGreaterThanOrEqualTo(rows);
            (8 * (bucket - rows)).Should().BeLessThan(bucket, $"{rows} rows pad to {bucket}: less than an eighth is padding");
            RowBuckets.Of(bucket).Should().Be(bucket, "a bucket is its own bucket");
            buckets.Add(bucket);
        }
        buckets.Should().HaveCount(8 * 9, "eight sizes per octave from 64 to 32768 (9 octaves)");
        RowBuckets.Of(68).Should().Be(72);
        RowBuckets.Of(123).Should().Be(128);
        RowBuckets.Of(550).Should().Be(576);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Row_counts_padded_up_to_their_bucket_give_the_eager_numbers(bool padded)
    {
        using var fast = (BertForMaskedLM)Load("tiny-bert-mlm");
        using var eager = (BertForMaskedLM)Load("tiny-bert-mlm");
        eager.UseFastPath = false;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        // 3 × 41 = 123 rows unpadded (bucket 128); with the mask, 41 + 17 + 10 = 68 real tokens packed (bucket 72).
        var ids = randint(1000, 30000, [3, 41], generator: new Generator(7, device: CPU));
        var lengths = new long[] { 41, 17, 10 };
        var mask = padded ? arange(41).unsqueeze(0).lt(tensor(lengths).unsqueeze(1)).to(int64) : null;
        (padded ? lengths.Sum() : 3 * 41).Should().Be(padded ? 68 : 123, "row counts that are not buckets");
        var got = fast.forward(ids, mask, outputHiddenStates: true, skipPadding: true);
        var want = eager.forward(ids, mask, outputHiddenStates: true, skipPadding: true);
        if (ExpectAvailable) EncoderGroups(fast).Should().OnlyContain(g => g.IsPacked, "the products ran on oneDNN");
        var real = (mask ?? ones(3, 41, dtype: int64)).unsqueeze(-1).to(float32);
        TensorAssert.Close(got.HiddenStates![^1] * real, want.HiddenStates![^1] * real, Fp32Tol, "last hidden state on real tokens");
        TensorAssert.Close(got.Logits * real, want.Logits * real, Fp32Tol * Math.Max(1.0, want.Logits.abs().max().item<float>()), "logits on real tokens");
    }
}
