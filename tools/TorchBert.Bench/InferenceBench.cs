using System.Text.Json.Nodes;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>fp32 TorchBert vs ONNX Runtime on all-MiniLM-L6-v2, and TorchBert in bf16/fp16 vs its fp32 output.</summary>
public sealed class InferenceBench(BenchOptions options, Report report, string modelDir, string onnxPath, BertTokenizer tokenizer)
{
    private sealed record Case(int Batch, int Length, int WarmUp, int Repeats, int QuickRepeats);

    private static readonly Case[] Cases =
    [
        new(1, 16, 20, 100, 30),
        new(1, 64, 10, 60, 20),
        new(8, 128, 3, 20, 6),
        new(32, 256, 1, 6, 2),
    ];

    /// <summary>
    /// Runs the fp32 cases; returns the ratios (TorchBert throughput / ORT throughput) for the benchmark's last lines:
    /// <c>b1_t16</c>, <c>b1_t64</c>, <c>b8_t128</c> (the pipelines' forward, skipPadding) and <c>b8_t128_all_positions</c> (HF's).
    /// </summary>
    public Dictionary<string, double> RunFp32()
    {
        report.Section("inference", "fp32, TorchBert (SDPA) vs ONNX Runtime, same inputs, alternating");
        using var ours = new TorchBertEngine(BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU }), "TorchBert all positions");
        using var packed = new TorchBertEngine(ours.Model, "TorchBert skipPadding", skipPadding: true, ownsModel: false);
        using var ort = new OrtEngine(onnxPath, options.Threads);
        var config = ours.Model.Config;
        var ratios = new Dictionary<string, double>();
        foreach (var c in Cases)
        {
            var batch = Batch.Make(tokenizer, c.Batch, c.Length);
            var reference = ort.LastHiddenState(batch);
            var diff = MaxDiffOnRealTokens(ours.LastHiddenState(batch), reference, batch, config.HiddenSize);
            var diffPacked = MaxDiffOnRealTokens(packed.LastHiddenState(batch), reference, batch, config.HiddenSize);
            IEngine[] engines = batch.RealTokens < batch.Size * batch.Length ? [ours, packed, ort] : [ours, ort];
            var timings = Timer.Alternate(engines, batch, c.WarmUp, options.Quick ? c.QuickRepeats : c.Repeats);
            var flops = EncoderFlops(config, batch);
            var ortTiming = timings[^1];
            // Headline: the forward the pipelines run (skipPadding: true; the same as all positions without padding).
            var headline = timings[^2];
            var ratio = ortTiming.Median / headline.Median;
            report.Line($"b{c.Batch}×t{c.Length} ({batch.RealTokens} real tokens of {c.Batch * c.Length}; max |Δ| last_hidden_state vs ORT " +
                        $"on real tokens {diff:E1}, skipPadding {diffPacked:E1}; load {Machine.LoadAverage()})");
            foreach (var t in timings) report.Line(t.Row(c.Batch, flops));
            foreach (var t in timings[..^1]) report.Line($"  ratio {t.Engine}/ORT throughput: {ortTiming.Median / t.Median:F2}");
            var json = new JsonObject
            {
                ["ort"] = ortTiming.ToJson(c.Batch, flops),
                ["ratio"] = Math.Round(ratio, 3),
                ["ratio_engine"] = headline.Engine,
                ["max_abs_diff_real_tokens"] = diff,
                ["max_abs_diff_real_tokens_skip_padding"] = diffPacked,
            };
            foreach (var t in timings[..^1])
            {
                json[t.Engine] = t.ToJson(c.Batch, flops);
                json[$"ratio {t.Engine}"] = Math.Round(ortTiming.Median / t.Median, 3);
            }
            report.Value($"b{c.Batch}_t{c.Length}", json);
            ratios[$"b{c.Batch}_t{c.Length}"] = ratio;
            ratios[$"b{c.Batch}_t{c.Length}_all_positions"] = ortTiming.Median / timings[0].Median;
        }
        return ratios;
    }

    /// <summary>bf16 and fp16 weights/compute on CPU at b8×128: time vs fp32 and ORT, output cosine vs fp32; returns
    /// (bf16 throughput / ORT fp32 throughput, bf16 mean cosine).</summary>
    public (double Bf16VsOrt, double Bf16Cosine) RunReducedPrecision()
    {
        report.Section("dtypes", "TorchBert bf16 / fp16 on CPU at b8×t128, vs fp32 TorchBert and ONNX Runtime fp32");
        report.Line($"native support on this CPU: bf16 {(Machine.NativeBf16 ? "yes" : "no (emulated through fp32)")}, " +
                    $"fp16 {(Machine.NativeFp16 ? "yes" : "no (emulated)")}");
        var batch = Batch.Make(tokenizer, 8, 128);
        using var fp32 = new TorchBertEngine(BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU }), "TorchBert fp32");
        using var ort = new OrtEngine(onnxPath, options.Threads);
        var reference = fp32.LastHiddenState(batch);
        var config = fp32.Model.Config;
        var flops = EncoderFlops(config, batch);
        (double, double) bf16 = (double.NaN, double.NaN);
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            using var reduced = new TorchBertEngine(
                BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU, DType = dtype }), $"TorchBert {dtype}");
            var cosine = MeanCosineOnRealTokens(reduced.LastHiddenState(batch), reference, batch, config.HiddenSize);
            var timings = Timer.Alternate([reduced, fp32, ort], batch, 1, options.Quick ? 2 : 4);
            report.Line($"{dtype}: mean cosine vs fp32 over real tokens {cosine:F5} (load {Machine.LoadAverage()})");
            foreach (var t in timings) report.Line(t.Row(batch.Size, flops));
            var vsOrt = timings[2].Median / timings[0].Median;
            if (dtype == ScalarType.BFloat16) bf16 = (vsOrt, cosine);
            report.Line($"  {dtype} throughput / ORT fp32: {vsOrt:F2}");
            report.Value(dtype.ToString(), new JsonObject
            {
                ["cosine_vs_fp32"] = Math.Round(cosine, 6),
                ["reduced"] = timings[0].ToJson(batch.Size, flops),
                ["fp32"] = timings[1].ToJson(batch.Size, flops),
                ["ort_fp32"] = timings[2].ToJson(batch.Size, flops),
                ["ratio_vs_ort_fp32"] = Math.Round(vsOrt, 3),
                ["native"] = dtype == ScalarType.BFloat16 ? Machine.NativeBf16 : Machine.NativeFp16,
            });
        }
        return bf16;
    }

    public static double EncoderFlops(BertConfig c, Batch b) =>
        Flops.Encoder(b.Size, b.Length, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers);

    private static IEnumerable<int> RealRows(Batch b)
    {
        for (var i = 0; i < b.Ids.Length; i++)
            if (b.Mask[i] == 1) yield return i;
    }

    public static double MaxDiffOnRealTokens(float[] a, float[] b, Batch batch, int hidden) =>
        RealRows(batch).Max(i => Enumerable.Range(0, hidden).Max(h => Math.Abs((double)a[i * hidden + h] - b[i * hidden + h])));

    public static double MeanCosineOnRealTokens(float[] a, float[] b, Batch batch, int hidden) =>
        RealRows(batch).Average(i =>
        {
            double dot = 0, na = 0, nb = 0;
            for (var h = 0; h < hidden; h++)
            {
                double x = a[i * hidden + h], y = b[i * hidden + h];
                dot += x * y; na += x * x; nb += y * y;
            }
            return dot / Math.Sqrt(na * nb);
        });
}
