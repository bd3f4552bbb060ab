using System.Text.Json.Nodes;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// The inference levers one at a time at b8×t128, alternating with the shipped configuration (SDPA, inference_mode,
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
            new LeverEngine("shipped (sdpa, inference_mode)", sdpa, Guard.InferenceMode),
            new LeverEngine("no_grad instead", sdpa, Guard.NoGrad),
            new LeverEngine("autograd left on", sdpa, Guard.None),
            new LeverEngine("eager attention", eager, Guard.InferenceMode),
            new LeverEngine($"1 thread (not {threads})", sdpa, Guard.InferenceMode, threads: 1, restore: threads),
        ];
        foreach (var (size, length, repeats) in new[] { (1, 16, 60), (8, 128, 10) })
        {
            var batch = Batch.Make(tokenizer, size, length);
            var timings = Timer.Alternate(engines, batch, 2, options.Quick ? 3 : repeats);
            var flops = Flops.Encoder(batch.Size, batch.Length, sdpa.Config.HiddenSize, sdpa.Config.IntermediateSize, sdpa.Config.NumHiddenLayers);
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

    private enum Guard { InferenceMode, NoGrad, None }

    private sealed class LeverEngine(string name, BertModel model, Guard guard, int? threads = null, int? restore = null) : IEngine
    {
        public string Name => name;

        public void Run(Batch b)
        {
            if (threads is { } n) set_num_threads(n);
            try
            {
                using var scope = NewDisposeScope();
                using IDisposable? mode = guard switch
                {
                    Guard.InferenceMode => inference_mode(),
                    Guard.NoGrad => no_grad(),
                    _ => null,
                };
                var ids = tensor(b.Ids, b.Shape);
                var mask = tensor(b.Mask, b.Shape);
                var types = tensor(b.Types, b.Shape);
                using var output = model.forward(ids, mask, types);
            }
            finally
            {
                if (restore is { } r) set_num_threads(r);
            }
        }

        public float[] LastHiddenState(Batch batch) => throw new NotSupportedException("levers only time");

        public void Dispose() { }
    }
}
