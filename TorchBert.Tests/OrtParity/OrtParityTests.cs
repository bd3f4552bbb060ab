using Microsoft.ML.OnnxRuntime;
using TorchBert.Configuration;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TorchBert.Tests.OrtParity;

/// <summary>
/// End-to-end parity of TorchBert with ONNX Runtime on the real pretrained all-MiniLM-L6-v2 (fp32, CPU): the final
/// hidden states, the pooler output (ORT's "924") and every hidden state along the way, for SDPA and eager attention,
/// on every position — padded ones included (HF computes them too; they attend to the unpadded keys).
/// Measured (2-core CPU): real tokens ≤ ~3e-6 at every layer; padded positions up to ~5e-5 (row 2, positions 14-15,
/// layers 3-5). Against a float64 TorchBert both fp32 results drift at exactly those positions (TorchBert ~4e-5,
/// ORT ~1e-5) while staying ~1e-6 elsewhere: those inputs are ill-conditioned (errors grow ~3x per layer there), not a
/// masking difference — the export's additive mask is (1 - m) * -10000 and TorchBert's (1 - m) * finfo.min, both of
/// which give masked keys exactly zero weight in fp32. How far they drift depends on the CPU's kernels (5e-5 on a Zen 3
/// with AVX2, 1.2e-4 with SDPA on a Zen 4 with AVX-512), so with a mask the real tokens are held to
/// <see cref="RealTokenTol"/> and the padded positions to <see cref="PaddedTol"/>.
/// </summary>
public class OrtParityTests(OrtParityFixture f, ITestOutputHelper output) : IClassFixture<OrtParityFixture>
{
    private const double Tol = 1e-4;
    private const double RealTokenTol = 2e-5;
    private const double PaddedTol = 5e-4;
    private const string PoolerOutput = "924";
    private static readonly string[] OrtInputs = ["input_ids", "attention_mask", "token_type_ids"];

    public static TheoryData<AttentionImplementation> Attn => [AttentionImplementation.Sdpa, AttentionImplementation.Eager];

    /// <summary>
    /// 3 × 16: a sentence pair (token_type_ids 1 from position 6), and two single sentences padded at the end
    /// (10 and 6 real tokens; pad id 0, mask 0, type 0).
    /// </summary>
    private (long[] Ids, long[] Mask, long[] Types, long[] Shape) Batch()
    {
        const int T = 16;
        string[] rows =
        [
            "[CLS] where is the cat [SEP] it is sleeping on the warm sofa today . [SEP]",
            "[CLS] hello world , this is a test . [SEP]",
            "[CLS] i love machine learning [SEP]",
        ];
        var ids = new long[rows.Length * T];
        var mask = new long[rows.Length * T];
        var types = new long[rows.Length * T];
        for (var r = 0; r < rows.Length; r++)
        {
            var row = f.Ids(rows[r]);
            row.Length.Should().BeLessThanOrEqualTo(T);
            for (var t = 0; t < row.Length; t++)
            {
                ids[r * T + t] = row[t];
                mask[r * T + t] = 1;
                types[r * T + t] = r == 0 && t >= 6 ? 1 : 0;
            }
        }
        ids[..T].Should().HaveElementAt(5, 102, "the pair's first [SEP] is at position 5");
        mask.Count(m => m == 0).Should().Be(6 + 10);
        return (ids, mask, types, [rows.Length, T]);
    }

    private IDisposableReadOnlyCollection<OrtValue> RunOrt(InferenceSession session, long[] ids, long[] mask, long[] types,
        long[] shape, IReadOnlyList<string> outputs)
    {
        using var idsV = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskV = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesV = OrtValue.CreateTensorValueFromMemory(types, shape);
        using var runOptions = new RunOptions();
        return session.Run(runOptions, OrtInputs, [idsV, maskV, typesV], outputs);
    }

    private static Tensor ToTorch(OrtValue v) =>
        torch.tensor(v.GetTensorDataAsSpan<float>().ToArray(), v.GetTensorTypeAndShape().Shape);

    /// <summary>
    /// Asserts max |ours - ort| ≤ <see cref="Tol"/> over every element, or, given the mask of a (B, T, H) output,
    /// ≤ <see cref="RealTokenTol"/> on real tokens and ≤ <see cref="PaddedTol"/> on padded positions; logs and returns the max.
    /// </summary>
    private double Close(Tensor ours, Tensor ort, string what, Tensor? mask = null)
    {
        ours.shape.Should().Equal(ort.shape, $"shape of {what}");
        using var scope = NewDisposeScope();
        var diff = (ours.to(float64) - ort.to(float64)).abs();
        var max = diff.max().item<double>();
        var detail = "";
        if (mask is not null && diff.dim() == 3)
        {
            var perToken = diff.amax(-1);                                 // (B, T)
            var real = perToken.masked_fill(mask.eq(0), 0).max().item<double>();
            var padded = perToken.masked_fill(mask.ne(0), 0).max().item<double>();
            detail = $" (real tokens {real:E2}, padded positions {padded:E2})";
            output.WriteLine($"{what}: max |diff| {max:E2}{detail}");
            real.Should().BeLessThanOrEqualTo(RealTokenTol, $"{what} real tokens{detail}");
            padded.Should().BeLessThanOrEqualTo(PaddedTol, $"{what} padded positions{detail}");
            return max;
        }
        output.WriteLine($"{what}: max |diff| {max:E2}{detail}");
        max.Should().BeLessThanOrEqualTo(Tol, $"{what} max diff {max:E2}{detail} at flat index {diff.argmax().item<long>()}");
        return max;
    }

    [Theory, MemberData(nameof(Attn))]
    public void Padded_sentence_pair_batch_matches_onnxruntime(AttentionImplementation attn)
    {
        var (ids, mask, types, shape) = Batch();
        using var ort = RunOrt(f.Session, ids, mask, types, shape, ["last_hidden_state", PoolerOutput]);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var maskT = torch.tensor(mask, shape);
        using var ours = f.Model(attn).forward(torch.tensor(ids, shape), maskT, torch.tensor(types, shape));

        Close(ours.LastHiddenState, ToTorch(ort[0]), $"{attn} last_hidden_state", maskT);
        Close(ours.PoolerOutput!, ToTorch(ort[1]), $"{attn} pooler_output (ORT '{PoolerOutput}')");
    }

    [Theory, MemberData(nameof(Attn))]
    public void Every_hidden_state_matches_the_graphs_layer_outputs(AttentionImplementation attn)
    {
        var (ids, mask, types, shape) = Batch();
        var names = f.HiddenStateValues;
        output.WriteLine("exposed values: " + string.Join(", ", names));
        using var ort = RunOrt(f.ExposedSession, ids, mask, types, shape, names.Append("last_hidden_state").ToList());
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var maskT = torch.tensor(mask, shape);
        using var ours = f.Model(attn).forward(torch.tensor(ids, shape), maskT, torch.tensor(types, shape), outputHiddenStates: true);

        ours.HiddenStates.Should().HaveCount(f.Config.NumHiddenLayers + 1);
        for (var i = 0; i < names.Count; i++)
        {
            var module = i == 0 ? "embeddings" : $"encoder.layer.{i - 1}";
            Close(ours.HiddenStates![i], ToTorch(ort[i]), $"{attn} hidden_states[{i}] ({module} output, ORT '{names[i]}')", maskT);
        }
        // The exposed copy still computes the original output the same way as the unmodified model.
        Close(ours.LastHiddenState, ToTorch(ort[names.Count]), $"{attn} last_hidden_state (exposed model)", maskT);
    }

    [Theory, MemberData(nameof(Attn))]
    public void Unpadded_sentence_without_mask_or_token_types_matches(AttentionImplementation attn)
    {
        var ids = f.Ids("[CLS] the weather is lovely today , we decided to walk to the park . [SEP]");
        ids.Should().HaveCount(16);
        long[] shape = [1, ids.Length];
        using var ort = RunOrt(f.Session, ids, Enumerable.Repeat(1L, ids.Length).ToArray(), new long[ids.Length], shape,
            ["last_hidden_state", PoolerOutput]);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var ours = f.Model(attn).forward(torch.tensor(ids, shape), attentionMask: null, tokenTypeIds: null);

        Close(ours.LastHiddenState, ToTorch(ort[0]), $"{attn} unpadded last_hidden_state");
        Close(ours.PoolerOutput!, ToTorch(ort[1]), $"{attn} unpadded pooler_output");
    }
}
