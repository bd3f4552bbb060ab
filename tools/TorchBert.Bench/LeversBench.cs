using System.Text.Json.Nodes;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// The inference levers one at a time at b1×t16 and b8×t128, alternating with the shipped configuration (SDPA, inference_mode,
/// dispose scope, all threads) so each row differs from the baseline by one thing: the evidence behind the levers log
/// in docs/benchmarks.md.
/// </summary>
public sealed class LeversBench(BenchOptions options, Report report, string modelDir, BertTokenizer tokenizer)
{
    public void Run()
    {
        report.Section("levers", "one change at a time vs the shipped configuration, fp32, TorchBert only");
        using var sdpa = BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU });
        using var eager = BertModel.FromPretrained(modelDir,
            new PretrainedOptions { Device = CPU, AttnImplementation = AttentionImplementation.Eager });
        var threads = options.Threads;
        IEngine[] engines =
        [
            new TorchBertEngine(sdpa, "shipped (sdpa, inference_mode)", ownsModel: false),
            new TorchBertEngine(sdpa, "no_grad instead", ownsModel: false, guard: () => no_grad()),
            new TorchBertEngine(sdpa, "autograd left on", ownsModel: false, guard: () => null),
            new TorchBertEngine(eager, "eager attention", ownsModel: false),
            new OneThread(new TorchBertEngine(sdpa, $"1 thread (not {threads})", ownsModel: false), threads),
        ];
        foreach (var (size, length, repeats) in new[] { (1, 16, 60), (8, 128, 10) })
        {
            var batch = Batch.Make(tokenizer, size, length);
            var timings = Timer.Alternate(engines, batch, 2, options.Quick ? 3 : repeats);
            var flops = InferenceBench.EncoderFlops(sdpa.Config, batch);
            var baseline = timings[0].Median;
            var json = new JsonObject();
            report.Line($"b{size}×t{length}");
            foreach (var t in timings)
            {
                report.Line($"{t.Row(batch.Size, flops)}  time ×{t.Median / baseline:F2}");
                json[t.Engine] = new JsonObject { ["timing"] = t.ToJson(batch.Size, flops), ["time_vs_shipped"] = Math.Round(t.Median / baseline, 3) };
            }
            report.Value($"b{size}_t{length}", json);
        }
    }

    /// <summary>Runs an engine on one thread, then gives the process its thread count back.</summary>
    private sealed class OneThread(IEngine inner, int restore) : IEngine
    {
        public string Name => inner.Name;

        public void Run(Batch batch)
        {
            set_num_threads(1);
            try { inner.Run(batch); }
            finally { set_num_threads(restore); }
        }

        public float[] LastHiddenState(Batch batch) => inner.LastHiddenState(batch);

        public void Dispose() => inner.Dispose();
    }
}
