using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Modeling;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// Load time and peak memory of a bert-base-sized checkpoint (random weights, 110 M parameters, ~440 MB safetensors)
/// once the file is in the page cache. Peak memory is measured in a fresh child process (this executable with
/// <c>--load-child</c>), so nothing earlier in the run inflates it.
/// </summary>
public sealed class LoadBench(BenchOptions options, Report report)
{
    /// <summary>The child's peak RSS growth after loading and 3 fast-path forwards at b8×t128, over the weights (NaN before <see cref="Run"/>).</summary>
    public double InferencePeakOverWeights { get; private set; } = double.NaN;

    public void Run()
    {
        report.Section("load", "bert-base-sized checkpoint (110 M params), BertModel.FromPretrained from the page cache");
        var dir = Directory.CreateTempSubdirectory("torchbert-bench-load-").FullName;
        try
        {
            var weightBytes = Generate(dir);
            File.ReadAllBytes(Path.Combine(dir, "model.safetensors")); // into the page cache
            var seconds = new List<double>();
            for (var i = 0; i < (options.Quick ? 3 : 5); i++)
            {
                var ms = Timer.Time(() => { using var m = BertModel.FromPretrained(dir, new PretrainedOptions { Device = CPU }); });
                seconds.Add(ms / 1000);
            }
            var (peakBytes, childSeconds, inferencePeak, packedGroups) = MeasureInChild(dir);
            var ratio = (double)peakBytes / weightBytes;
            InferencePeakOverWeights = (double)inferencePeak / weightBytes;
            report.Line($"weights {weightBytes / 1e6:F0} MB; load median {Stats.Median(seconds):F3} s (min {seconds.Min():F3}, n={seconds.Count}; target < 1 s)");
            report.Line($"fresh process: first load {childSeconds:F3} s, peak RSS growth {peakBytes / 1e6:F0} MB = {ratio:F2}× the weights (target ≤ 1.3×)");
            report.Line($"then 3 inference forwards at b8×t128 ({packedGroups} Linear groups packed by the fast path): peak RSS growth " +
                        $"{inferencePeak / 1e6:F0} MB = {InferencePeakOverWeights:F2}× the weights");
            report.Value("peak_over_weights_after_inference", Math.Round(InferencePeakOverWeights, 3));
            report.Value("weights_bytes", weightBytes);
            report.Value("load_median_s", Math.Round(Stats.Median(seconds), 4));
            report.Value("first_load_fresh_process_s", Math.Round(childSeconds, 4));
            report.Value("peak_rss_growth_bytes", peakBytes);
            report.Value("peak_over_weights", Math.Round(ratio, 3));
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Writes config.json + model.safetensors of a randomly initialised bert-base; returns the weights' bytes.</summary>
    private static long Generate(string dir)
    {
        var config = new BertConfig(); // HF defaults = bert-base-uncased
        config.Save(Path.Combine(dir, "config.json"));
        using var model = new BertModel(config);
        var state = model.state_dict();
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), state);
        return state.Values.Sum(t => t.numel() * t.element_size());
    }

    /// <summary>
    /// The child: RSS before (runtime up: libtorch, and the fast path's oneDNN ops through a tiny model's forward), load,
    /// peak RSS after; then 3 inference forwards at b8×t128 on the loaded model (the fast path packs its weights) and the
    /// peak again; prints one parsable line.
    /// </summary>
    public static int Child(string dir)
    {
        NativeRuntime.EnsureLoaded();
        using (var tiny = new BertModel(new BertConfig { VocabSize = 100, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64 }))
        using (inference_mode())
        {
            tiny.eval();
            using var scope = NewDisposeScope();
            tiny.forward(ones(1, 4, dtype: int64));
        }
        var before = Machine.ProcStatus("VmRSS");
        BertModel? model = null;
        var ms = Timer.Time(() => model = BertModel.FromPretrained(dir, new PretrainedOptions { Device = CPU }));
        var peak = Machine.ProcStatus("VmHWM");
        using (model)
        using (inference_mode())
        {
            model!.eval();
            var ids = randint(1000, 20000, [8, 128], dtype: int64);
            for (var i = 0; i < 3; i++)
            {
                using var scope = NewDisposeScope();
                model.forward(ids);
            }
            Console.WriteLine($"load-child rss_before={before} hwm_after={peak} ms={ms:F1} hwm_after_inference={Machine.ProcStatus("VmHWM")} packed_groups={model.PackedLinearGroups}");
        }
        return 0;
    }

    private static (long PeakBytes, double Seconds, long InferencePeakBytes, int PackedGroups) MeasureInChild(string dir)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(LoadBench).Assembly.Location);
        psi.ArgumentList.Add("--load-child");
        psi.ArgumentList.Add(dir);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("load-child ", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException($"load child failed (exit {p.ExitCode}): {output}");
        var kv = line["load-child ".Length..].Split(' ').Select(s => s.Split('=')).ToDictionary(a => a[0], a => a[1]);
        var before = long.Parse(kv["rss_before"]);
        return (long.Parse(kv["hwm_after"]) - before, double.Parse(kv["ms"], System.Globalization.CultureInfo.InvariantCulture) / 1000,
                long.Parse(kv["hwm_after_inference"]) - before, int.Parse(kv["packed_groups"]));
    }
}
