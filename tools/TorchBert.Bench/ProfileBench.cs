using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// Where a small forward's time goes (b1×t16, b1×t64): each stage of <see cref="BertModel.forward"/> and each op of a
/// layer timed on its own, warm and back to back, the stages interleaved round by round (A B C … A B C …) so machine
/// noise hits all alike; medians in µs. The whole forward is also timed after the benchmark's 250 ms pause (cold), which
/// is how the inference section measures it. Evidence for the latency entries of the levers log.
/// </summary>
public sealed class ProfileBench(BenchOptions options, Report report, string modelDir, BertTokenizer tokenizer)
{
    private sealed record Stage(string Name, Action Body, int Threads = 0);

    public void Run()
    {
        report.Section("profile", "per-stage and per-op medians of a small forward (warm, back to back, interleaved), fp32");
        using var model = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU });
        model.eval();
        using var offModel = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU });
        offModel.eval();
        offModel.UseFastPath = false;
        var threads = options.Threads;
        foreach (var length in new[] { 16, 64 })
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            var stages = Stages(model, offModel, length, threads);
            var rounds = options.Quick ? 15 : 40;
            const int inner = 5;
            foreach (var s in stages) for (var i = 0; i < 3; i++) Call(s, threads);   // warm-up
            var us = stages.Select(_ => new List<double>()).ToArray();
            var cpu = stages.Select(_ => new List<double>()).ToArray();
            var faults = stages.Select(_ => new List<double>()).ToArray();
            for (var r = 0; r < rounds; r++)
                for (var k = 0; k < stages.Length; k++)
                {
                    var j = (r + k) % stages.Length;
                    var calls = Enumerable.Range(0, inner).Select(_ => CallWithCpu(stages[j], threads)).ToArray();
                    us[j].Add(calls.Select(x => x.Wall).Order().ElementAt(inner / 2));
                    cpu[j].Add(calls.Select(x => x.Cpu).Order().ElementAt(inner / 2));
                    faults[j].Add(calls.Select(x => x.Faults).Order().ElementAt(inner / 2));
                }
            // Cold: after the inference section's 250 ms pause, as it measures.
            var cold = new List<double>();
            var coldFaults = new List<double>();
            for (var r = 0; r < (options.Quick ? 8 : 20); r++)
            {
                Thread.Sleep(250);
                var f0 = Machine.MinorFaults();
                cold.Add(Call(stages[0], threads));
                coldFaults.Add(Machine.MinorFaults() - f0);
            }

            report.Line($"b1×t{length} (µs, median of {rounds} rounds of the median of {inner} back-to-back calls; load {Machine.LoadAverage()})");
            report.Line($"  {"stage",-44} {"wall",9}    {"thread CPU",9}    {"faults",6}  (thread CPU: this thread's CPU time; 1-thread rows: all the work; contention-proof; faults: the process's minor page faults per call)");
            var json = new JsonObject();
            for (var k = 0; k < stages.Length; k++)
            {
                var m = Stats.Median(us[k]);
                var mc = Stats.Median(cpu[k]);
                var mf = Stats.Median(faults[k]);
                report.Line($"  {stages[k].Name,-44} {m,9:F1} µs {mc,9:F1} µs {mf,6:F0}");
                json[stages[k].Name] = new JsonObject { ["wall_us"] = Math.Round(m, 1), ["thread_cpu_us"] = Math.Round(mc, 1), ["minor_faults"] = mf };
            }
            var coldMedian = Stats.Median(cold);
            report.Line($"  {"forward after a 250 ms pause (cold)",-44} {coldMedian,9:F1} µs {"",12} {Stats.Median(coldFaults),6:F0}");
            json["forward after a 250 ms pause (cold)"] = Math.Round(coldMedian, 1);
            report.Value($"b1_t{length}", json);
        }
    }

    /// <summary>The stages at b1×t<paramref name="length"/>; their tensors belong to the caller's dispose scope.</summary>
    private Stage[] Stages(BertModel model, BertModel offModel, int length, int threads)
    {
        var c = model.Config;
        var b = Batch.Make(tokenizer, 1, length);
            var ids = tensor(b.Ids, b.Shape);
        var mask = tensor(b.Mask, b.Shape);
        var types = tensor(b.Types, b.Shape);
        var x = model.Embeddings.forward(ids, types);                                // (1, T, H)
        var x2 = x.reshape(length, c.HiddenSize);
        var inter = randn(1, length, c.IntermediateSize);
        var layer = model.Encoder.Layers[0];
        var (wq, bq) = Weights(offModel, "encoder.layer.0.attention.self.query");
        var (wi, bi) = Weights(offModel, "encoder.layer.0.intermediate.dense");
        var (wo, bo) = Weights(offModel, "encoder.layer.0.output.dense");
        var wqkv = cat([wq, Weights(offModel, "encoder.layer.0.attention.self.key").W, Weights(offModel, "encoder.layer.0.attention.self.value").W], 0);
        var bqkv = cat([bq, Weights(offModel, "encoder.layer.0.attention.self.key").B, Weights(offModel, "encoder.layer.0.attention.self.value").B], 0);
        var xc = x.permute(0, 2, 1).contiguous();                                   // (1, H, T)
        var wi3 = wi.unsqueeze(-1);                                                 // (I, H, 1)
        var wit = wi.t().contiguous();                                              // (H, I)
        var q = randn(1, c.NumAttentionHeads, length, c.HeadSize);
        var lnW = ones(c.HiddenSize);
        var lnB = zeros(c.HiddenSize);
        var engine = new TorchBertEngine(model, ownsModel: false);
        var offEngine = new TorchBertEngine(offModel, ownsModel: false);

        void Op(Func<Tensor> f) { using var s = NewDisposeScope(); f(); }
        return
        [
            new("forward (TorchBertEngine.Run)", () => engine.Run(b)),
            new("forward, 1 thread", () => engine.Run(b), 1),
            new("forward, fast path off (F.linear)", () => offEngine.Run(b)),
            new("forward, fast path off, 1 thread", () => offEngine.Run(b), 1),
            new("one layer, fast path off", () => Op(() => offModel.Encoder.Layers[0].forward(x, AttentionContext.Encoder()).Output)),
            new("3 input tensors from long[]", () => Op(() => { tensor(b.Ids, b.Shape); tensor(b.Mask, b.Shape); return tensor(b.Types, b.Shape); })),
            new("InputValidation.Check", () => InputValidation.Check(c, ids, mask, types, null)),
            new("  before: tensor-op range checks", () => { OldRange(ids); OldRange(types); }),
            new("AttentionMasks.AttendsEverywhere", () => AttentionMasks.AttendsEverywhere(mask)),
            new("  before: eq/all/item mask check", () => { using var k = mask.eq(1); using var a = k.all(); a.item<bool>(); }),
            new("embeddings", () => Op(() => model.Embeddings.forward(ids, types))),
            new("encoder (all layers)", () => Op(() => model.Encoder.forward(x, AttentionContext.Encoder()).LastHiddenState)),
            new("one layer", () => Op(() => layer.forward(x, AttentionContext.Encoder()).Output)),
            new("pooler", () => Op(() => model.Pooler!.forward(x))),
            new($"linear {c.HiddenSize}→{c.HiddenSize} (M={length})", () => Op(() => nn.functional.linear(x, wq, bq))),
            new($"linear {c.HiddenSize}→{c.HiddenSize}, 1 thread", () => Op(() => nn.functional.linear(x, wq, bq)), 1),
            new($"linear {c.HiddenSize}→{3 * c.HiddenSize} (fused QKV)", () => Op(() => nn.functional.linear(x, wqkv, bqkv))),
            new($"linear {c.HiddenSize}→{c.IntermediateSize}", () => Op(() => nn.functional.linear(x, wi, bi))),
            new($"linear {c.HiddenSize}→{c.IntermediateSize}, 1 thread", () => Op(() => nn.functional.linear(x, wi, bi)), 1),
            new($"linear {c.IntermediateSize}→{c.HiddenSize}", () => Op(() => nn.functional.linear(inter, wo, bo))),
            new($"linear {c.IntermediateSize}→{c.HiddenSize}, 1 thread", () => Op(() => nn.functional.linear(inter, wo, bo)), 1),
            new($"conv1d k=1 {c.HiddenSize}→{c.IntermediateSize} (oneDNN?)", () => Op(() => nn.functional.conv1d(xc, wi3, bi))),
            new($"conv1d k=1 {c.HiddenSize}→{c.IntermediateSize}, 1 thread", () => Op(() => nn.functional.conv1d(xc, wi3, bi)), 1),
            new($"addmm x·Wᵀ(contiguous) {c.HiddenSize}→{c.IntermediateSize}, 1 thread", () => Op(() => addmm(bi, x2, wit, 1, 1)), 1),
            new("sdpa (no mask)", () => Op(() => nn.functional.scaled_dot_product_attention(q, q, q))),
            new("gelu (T×I)", () => Op(() => nn.functional.gelu(inter))),
            new("add + layer_norm (T×H)", () => Op(() => nn.functional.layer_norm(x + x, [c.HiddenSize], lnW, lnB, c.LayerNormEps))),
            new("view+permute ×3, permute+reshape", () => Op(() => x.view(1, length, c.NumAttentionHeads, c.HeadSize).permute(0, 2, 1, 3).permute(0, 2, 1, 3).reshape(1, length, c.HiddenSize))),
            new("empty dispose scope", () => { using var s = NewDisposeScope(); }),
        ];
    }

    /// <summary>
    /// <c>--callgrind N</c> (scripts/callgrind-profile.sh runs it under valgrind): each stage N times on one thread between
    /// CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS_AT(stage) of the helper library named by TORCHBERT_CGCTL, so each
    /// dump holds that stage's instructions. Without the helper it just runs the stages.
    /// </summary>
    public unsafe void Callgrind(int calls)
    {
        delegate* unmanaged<void> zero = null;
        delegate* unmanaged<byte*, void> dump = null;
        if (Environment.GetEnvironmentVariable("TORCHBERT_CGCTL") is { } lib)
        {
            var h = System.Runtime.InteropServices.NativeLibrary.Load(lib);
            zero = (delegate* unmanaged<void>)System.Runtime.InteropServices.NativeLibrary.GetExport(h, "cg_zero");
            dump = (delegate* unmanaged<byte*, void>)System.Runtime.InteropServices.NativeLibrary.GetExport(h, "cg_dump");
        }
        void Dump(string name)
        {
            if (dump == null) return;
            var bytes = System.Text.Encoding.ASCII.GetBytes(name.Replace('×', 'x').Replace('→', '>').Replace('ᵀ', 'T') + "\0");
            fixed (byte* p = bytes) dump(p);
        }
        set_num_threads(1);
        using var model = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU });
        model.eval();
        using var offModel = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU });
        offModel.eval();
        offModel.UseFastPath = false;
        foreach (var length in new[] { 16, 64 })
        {
            using var scope = NewDisposeScope();
            using var mode = inference_mode();
            var stages = Stages(model, offModel, length, 1).Where(s => s.Threads == 0).ToArray();
            foreach (var s in stages) for (var i = 0; i < 5; i++) s.Body();
            Dump("warm-up");
            foreach (var s in stages)
            {
                if (zero != null) zero();
                for (var i = 0; i < calls; i++) s.Body();
                Dump($"b1xt{length} {s.Name}");
            }
        }
    }

    /// <summary>The range check as it was before HostValues: min, max and two item reads.</summary>
    private static void OldRange(Tensor t)
    {
        using var scope = NewDisposeScope();
        if (t.min().item<long>() < 0 || t.max().item<long>() < 0) throw new InvalidOperationException();
    }

    private static (double Wall, double Cpu, double Faults) CallWithCpu(Stage s, int threads)
    {
        if (s.Threads > 0) set_num_threads(s.Threads);
        try
        {
            var f = Machine.MinorFaults();
            var c = ThreadCpuMicroseconds();
            var t = Stopwatch.GetTimestamp();
            s.Body();
            var wall = Stopwatch.GetElapsedTime(t).TotalMicroseconds;
            return (wall, ThreadCpuMicroseconds() - c, Machine.MinorFaults() - f);
        }
        finally
        {
            if (s.Threads > 0) set_num_threads(threads);
        }
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, out TimeSpec t);

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID); NaN off Linux.</summary>
    private static double ThreadCpuMicroseconds()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        clock_gettime(3, out var t);
        return t.Seconds * 1e6 + t.Nanoseconds / 1e3;
    }

    private static double Call(Stage s, int threads)
    {
        if (s.Threads > 0) set_num_threads(s.Threads);
        try
        {
            var t = Stopwatch.GetTimestamp();
            s.Body();
            return Stopwatch.GetElapsedTime(t).TotalMicroseconds;
        }
        finally
        {
            if (s.Threads > 0) set_num_threads(threads);
        }
    }

    private static (Tensor W, Tensor B) Weights(BertModel model, string prefix)
    {
        var p = model.named_parameters().ToDictionary(e => e.name, e => e.parameter);
        return (p[prefix + ".weight"], p[prefix + ".bias"]);
    }
}
