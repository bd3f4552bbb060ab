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
            var (peakBytes, childSeconds) = MeasureInChild(dir);
            var ratio = (double)peakBytes / weightBytes;
            report.Line($"weights {weightBytes / 1e6:F0} MB; load median {Stats.Median(seconds):F3} s (min {seconds.Min():F3}, n={seconds.Count}; target < 1 s)");
            report.Line($"fresh process: first load {childSeconds:F3} s, peak RSS growth {peakBytes / 1e6:F0} MB = {ratio:F2}× the weights (target ≤ 1.3×)");
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

    /// <summary>The child: RSS before (runtime up), load, peak RSS after; prints one parsable line.</summary>
    public static int Child(string dir)
    {
        NativeRuntime.EnsureLoaded();
        using (var warm = ones(8)) { } // libtorch initialised before the baseline
        var before = Machine.ProcStatus("VmRSS");
        var ms = Timer.Time(() => { using var m = BertModel.FromPretrained(dir, new PretrainedOptions { Device = CPU }); });
        var peak = Machine.ProcStatus("VmHWM");
        Console.WriteLine($"load-child rss_before={before} hwm_after={peak} ms={ms:F1}");
        return 0;
    }

    private static (long PeakBytes, double Seconds) MeasureInChild(string dir)
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
        return (long.Parse(kv["hwm_after"]) - long.Parse(kv["rss_before"]), double.Parse(kv["ms"], System.Globalization.CultureInfo.InvariantCulture) / 1000);
    }
}
