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
        // The same forward with the oneDNN fast path off (F.linear, MKL): the fast path's own speed-up, in the same run.
        var offModel = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU });
        offModel.UseFastPath = false;
        using var off = new TorchBertEngine(offModel, "TorchBert F.linear", skipPadding: true);
        var config = ours.Model.Config;
        var ratios = new Dictionary<string, double>();
        foreach (var c in Cases)
        {
            var batch = Batch.Make(tokenizer, c.Batch, c.Length);
            var reference = ort.LastHiddenState(batch);
            var diff = MaxDiffOnRealTokens(ours.LastHiddenState(batch), reference, batch, config.HiddenSize);
            var diffPacked = MaxDiffOnRealTokens(packed.LastHiddenState(batch), reference, batch, config.HiddenSize);
            var padded = batch.RealTokens < batch.Size * batch.Length;
            IEngine[] engines = padded ? [ours, packed, off, ort] : [ours, off, ort];
            var timings = Timer.Alternate(engines, batch, c.WarmUp, options.Quick ? c.QuickRepeats : c.Repeats);
            var flops = EncoderFlops(config, batch);
            var ortTiming = timings[^1];
            // Headline: the forward the pipelines run (skipPadding: true; the same as all positions without padding).
            var headline = timings[padded ? 1 : 0];
            var offTiming = timings[^2];
            var ratio = ortTiming.Median / headline.Median;
            report.Line($"b{c.Batch}×t{c.Length} ({batch.RealTokens} real tokens of {c.Batch * c.Length}; max |Δ| last_hidden_state vs ORT " +
                        $"on real tokens {diff:E1}, skipPadding {diffPacked:E1}; load {Machine.LoadAverage()})");
            foreach (var t in timings) report.Line(t.Row(c.Batch, flops));
            foreach (var t in timings[..^1]) report.Line($"  ratio {t.Engine}/ORT throughput: {ortTiming.Median / t.Median:F2}");
            report.Line($"  fast path on/off (skipPadding): {offTiming.Median / headline.Median:F2}");
            var json = new JsonObject
            {
                ["ort"] = ortTiming.ToJson(c.Batch, flops),
                ["ratio"] = Math.Round(ratio, 3),
                ["ratio_engine"] = headline.Engine,
                ["fast_path_speedup"] = Math.Round(offTiming.Median / headline.Median, 3),
                ["max_abs_diff_real_tokens"] = diff,
                ["max_abs_diff_real_tokens_skip_padding"] = diffPacked,
            };
            foreach (var t in timings[..^1])
            {
                json[t.Engine] = t.ToJson(c.Batch, flops);
                json[$"ratio {t.Engine}"] = Math.Round(ortTiming.Median / t.Median, 3);
            }
            report.Value($"b{c.Batch}_t{c.Length}", json);
            var key = $"b{c.Batch}_t{c.Length}";
            ratios[key] = ratio;
            ratios[$"{key}_all_positions"] = ortTiming.Median / timings[0].Median;
            ratios[$"fast_on_off_{key}"] = offTiming.Median / headline.Median;
            ratios[$"fast_on_off_{key}_vs_ort_off"] = ortTiming.Median / offTiming.Median;
            ratios[$"faults_{key}"] = headline.FaultsMedian;
            ratios[$"faults_off_{key}"] = offTiming.FaultsMedian;
            if (c.Batch == 1)
            {
                // The same engines warm and back to back (blocks of calls): what a busy server or a loop sees.
                var warm = Timer.Blocks([ours, off, ort], batch, options.Quick ? 3 : 6, 10);
                report.Line($"  warm, back to back (blocks of 10 after one untimed call):");
                foreach (var t in warm) report.Line("  " + t.Row(c.Batch, flops));
                ratios[$"{key}_warm"] = warm[^1].Median / warm[0].Median;
                ratios[$"fast_on_off_{key}_warm"] = warm[1].Median / warm[0].Median;
                report.Line($"  warm ratio TorchBert/ORT throughput: {ratios[$"{key}_warm"]:F2}; fast path on/off: {ratios[$"fast_on_off_{key}_warm"]:F2}");
                json["warm"] = new JsonObject
                {
                    ["ort"] = warm[^1].ToJson(c.Batch, flops), ["torchbert"] = warm[0].ToJson(c.Batch, flops),
                    ["fast_path_off"] = warm[1].ToJson(c.Batch, flops), ["ratio"] = Math.Round(ratios[$"{key}_warm"], 3),
                };
            }
        }
        return ratios;
    }

    /// <summary>
    /// bert-base-sized random weights (768 hidden, 12 layers, 3072 intermediate) at b8×t128: the fast path on vs off
    /// (no ORT peer: there is no ONNX export of random weights here). The GEMM share grows with size; returns on/off.
    /// </summary>
    public double RunBertBase()
    {
        report.Section("bert-base", "bert-base-sized random weights at b8×t128: oneDNN fast path on vs off (F.linear), fp32");
        var config = new BertConfig
        {
            VocabSize = tokenizer.VocabSize, HiddenSize = 768, NumHiddenLayers = 12, NumAttentionHeads = 12, IntermediateSize = 3072,
        };
        using var model = new BertModel(config);
        model.eval();
        using var offModel = new BertModel(config);
        offModel.load_state_dict(model.state_dict());
        offModel.eval();
        offModel.UseFastPath = false;
        using var on = new TorchBertEngine(model, "bert-base fast path", skipPadding: true, ownsModel: false);
        using var off = new TorchBertEngine(offModel, "bert-base F.linear", skipPadding: true, ownsModel: false);
        var batch = Batch.Make(tokenizer, 8, 128);
        var diff = MaxDiffOnRealTokens(on.LastHiddenState(batch), off.LastHiddenState(batch), batch, config.HiddenSize);
        var timings = Timer.Alternate([on, off], batch, 1, options.Quick ? 3 : 8);
        var flops = EncoderFlops(config, batch);
        report.Line($"b8×t128 ({batch.RealTokens} real tokens; max |Δ| on vs off {diff:E1}; load {Machine.LoadAverage()})");
        foreach (var t in timings) report.Line(t.Row(batch.Size, flops));
        var speedup = timings[1].Median / timings[0].Median;
        report.Line($"  fast path on/off: {speedup:F2}");
        report.Value("b8_t128", new JsonObject
        {
            ["on"] = timings[0].ToJson(batch.Size, flops), ["off"] = timings[1].ToJson(batch.Size, flops),
            ["speedup"] = Math.Round(speedup, 3), ["max_abs_diff"] = diff,
        });
        return speedup;
    }

    /// <summary>
    /// Peak and resident memory of loading the default model and running inference (3 forwards at b8×t128), over the
    /// weights' bytes, with the fast path on and then off (the C heap trimmed and the peak reset before each), after the
    /// process's one-time costs were paid by a warm-up model: the packed weights replace the plain ones, so the fast path
    /// should cost no more than F.linear. Returns the fast path's
    /// (peak, resident after trimming) ratios.
    /// </summary>
    public (double Peak, double Resident) PeakMemoryVsWeights()
    {
        report.Section("peak-memory", "process RSS growth while loading the default model and running inference (b8×t128 ×3), over the weights' size");
        var batch = Batch.Make(tokenizer, 8, 128);
        (double, double) result = (double.NaN, double.NaN);
        // The process's one-time costs first (libtorch's thread pools and buffers, oneDNN's kernels and the op module,
        // MKL): a model loaded, run both ways and disposed. What follows is then what a model costs: its weights, any
        // second copy of them, and its activations.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Machine.TrimNativeHeap();
        var before = Machine.ProcStatus("VmRSS");
        using (var warm = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU }))
        {
            using var engine = new TorchBertEngine(warm, ownsModel: false, skipPadding: true);
            engine.Run(batch);
            warm.UseFastPath = false;
            engine.Run(batch);
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Machine.TrimNativeHeap();
        report.Line($"runtime warm-up (one-time per process: libtorch, oneDNN, MKL; a model loaded, run both ways, disposed): " +
                    $"resident +{(Machine.ProcStatus("VmRSS") - before) / 1e6:F1} MB");
        foreach (var fast in new[] { true, false })
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Machine.TrimNativeHeap();
            var start = Machine.ProcStatus("VmRSS");
            var reset = Machine.ResetPeakRss();
            long weights, peak, resident, loadPeak;
            int packedGroups;
            using (var model = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU }))
            {
                model.UseFastPath = fast;
                weights = model.parameters().Sum(p => p.numel() * p.element_size());
                loadPeak = Machine.ProcStatus("VmHWM") - start;
                using var engine = new TorchBertEngine(model, ownsModel: false, skipPadding: true);
                for (var i = 0; i < 3; i++) engine.Run(batch);
                packedGroups = model.PackedLinearGroups;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                peak = Machine.ProcStatus("VmHWM") - start;
                Machine.TrimNativeHeap();
                resident = Machine.ProcStatus("VmRSS") - start;
            }
            report.Line($"fast path {(fast ? "on " : "off")}: weights {weights / 1e6:F1} MB, {packedGroups} packed groups; peak RSS growth " +
                        $"{peak / 1e6:F1} MB ({(double)peak / weights:F2}× weights{(reset ? "" : ", peak not reset: process-wide")}; loading alone {(double)loadPeak / weights:F2}×, " +
                        $"the rest is the forward's activations), " +
                        $"resident growth after malloc_trim {resident / 1e6:F1} MB ({(double)resident / weights:F2}×) (load {Machine.LoadAverage()})");
            report.Value(fast ? "on" : "off", new JsonObject
            {
                ["weights_bytes"] = weights, ["peak_growth_bytes"] = peak, ["resident_growth_bytes"] = resident, ["packed_groups"] = packedGroups,
            });
            if (fast) result = ((double)peak / weights, (double)resident / weights);
        }
        return result;
    }

    /// <summary>
    /// bf16 and fp16 weights/compute on CPU at b8×128: time vs fp32 and ORT, output cosine vs fp32. Each dtype runs both
    /// forwards, HF's (every position) and the pipelines' (skipPadding), as the fp32 section does; returns (bf16 pipelines'
    /// forward throughput / ORT fp32 throughput, the same for every position, bf16 mean cosine).
    /// </summary>
    public (double Bf16VsOrt, double Bf16AllPositionsVsOrt, double Bf16Cosine) RunReducedPrecision()
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
        (double, double, double) bf16 = (double.NaN, double.NaN, double.NaN);
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            using var reduced = new TorchBertEngine(
                BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU, DType = dtype }), $"TorchBert {dtype}");
            using var reducedPacked = new TorchBertEngine(reduced.Model, $"{dtype} skipPadding", skipPadding: true, ownsModel: false);
            var cosine = MeanCosineOnRealTokens(reduced.LastHiddenState(batch), reference, batch, config.HiddenSize);
            var timings = Timer.Alternate([reduced, reducedPacked, fp32, ort], batch, 1, options.Quick ? 2 : 4);
            report.Line($"{dtype}: mean cosine vs fp32 over real tokens {cosine:F5} (load {Machine.LoadAverage()})");
            foreach (var t in timings) report.Line(t.Row(batch.Size, flops));
            var vsOrt = timings[3].Median / timings[1].Median;
            var allVsOrt = timings[3].Median / timings[0].Median;
            if (dtype == ScalarType.BFloat16) bf16 = (vsOrt, allVsOrt, cosine);
            report.Line($"  {dtype} throughput / ORT fp32: {vsOrt:F2} (skipPadding, the pipelines' forward), {allVsOrt:F2} (every position)");
            report.Value(dtype.ToString(), new JsonObject
            {
                ["cosine_vs_fp32"] = Math.Round(cosine, 6),
                ["reduced"] = timings[0].ToJson(batch.Size, flops),
                ["reduced_skip_padding"] = timings[1].ToJson(batch.Size, flops),
                ["fp32"] = timings[2].ToJson(batch.Size, flops),
                ["ort_fp32"] = timings[3].ToJson(batch.Size, flops),
                ["ratio_vs_ort_fp32"] = Math.Round(vsOrt, 3),
                ["ratio_vs_ort_fp32_all_positions"] = Math.Round(allVsOrt, 3),
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
