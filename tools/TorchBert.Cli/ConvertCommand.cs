using System.CommandLine;
using TorchBert.Checkpoints;
using TorchBert.Loading;

namespace TorchBert.Cli;

/// <summary><c>torchbert convert</c>: progress on stderr, a summary (or JSON) on stdout.</summary>
internal static class ConvertCommand
{
    public static Command Command()
    {
        var src = new Argument<string>("src") { Description = "HF folder (safetensors, sharded, pytorch_model.bin) or ONNX export (.onnx or folder)" };
        var dst = new Argument<string>("dst") { Description = "output folder (e.g. weights/bert-base-uncased)" };
        var dtype = new Option<string>("--dtype") { Description = "the dtype of the written weights: " + CommonOptions.DTypeValues, DefaultValueFactory = _ => "float32" };
        var verify = new Option<bool>("--verify") { Description = "run source and result on a sample input and print the max difference" };
        var heads = new Option<int?>("--heads") { Description = "attention heads, for ONNX exports whose graph doesn't say" };
        var force = new Option<bool>("--force") { Description = "replace a non-empty destination folder" };
        var json = CommonOptions.Json();
        var cmd = new Command("convert", "convert a model to a self-contained TorchBert folder (config.json, model.safetensors, tokenizer)") { src, dst, dtype, verify, heads, force, json };
        cmd.SetAction((p, _) => Cli.Run(() => Run(p.GetValue(src)!, p.GetValue(dst)!, p.GetValue(dtype)!, p.GetValue(verify), p.GetValue(heads), p.GetValue(force), p.GetValue(json))));
        return cmd;
    }

    private static int Run(string src, string dst, string dtypeName, bool verify, int? heads, bool force, bool json)
    {
        var dtype = CommonOptions.ParseDType(dtypeName)!.Value;
        if (heads is <= 0) throw new UsageException($"--heads must be > 0, got {heads}");
        // The destination is checked before anything is read or converted.
        if (File.Exists(dst)) throw new UsageException($"{dst} is a file; convert writes a folder (choose another destination)");
        if (Directory.Exists(dst) && Directory.EnumerateFileSystemEntries(dst).Any() && !force)
            throw new UsageException($"{dst} exists and is not empty; use --force to replace it, or choose another destination");
        var lastPercent = -1;
        var report = ModelConverter.Convert(src, dst, new ConvertOptions
        {
            DType = dtype, Verify = verify, NumAttentionHeads = heads, Overwrite = force,
            Progress = (done, total, key) =>
            {
                var percent = done * 100 / total;
                if (percent / 10 == lastPercent / 10 && done != total) return;
                lastPercent = percent;
                Console.Error.WriteLine($"torchbert: writing {done}/{total} tensors ({percent}%) {key}");
            },
        });
        if (json)
        {
            Cli.WriteJson(new
            {
                source = report.Source, source_format = report.SourceFormat, destination = report.Destination,
                architecture = report.Architecture, parameters = report.Parameters, dtype = DTypeNames.Name(report.DType),
                tensors = report.Tensors, bytes_written = report.BytesWritten,
                renamed = report.Load.Renamed.Select(r => new[] { r.From, r.To }), ignored = report.Load.Unexpected,
                tied = report.Load.Tied, copied_files = report.CopiedFiles, notes = report.Notes,
                verify_max_abs_diff = report.VerifyMaxAbsDiff, verify_cosine = report.VerifyCosine, seconds = report.Elapsed.TotalSeconds,
            });
            return 0;
        }
        Console.WriteLine($"source:       {report.Source} ({report.SourceFormat})");
        Console.WriteLine($"architecture: {report.Architecture}, {report.Parameters:N0} parameters");
        Console.WriteLine($"written:      {report.Destination}: {report.Tensors} tensors, {DTypeNames.Name(report.DType)}, {report.BytesWritten:N0} bytes of weights in {report.Elapsed.TotalSeconds:F1} s");
        if (report.Load.Renamed.Count > 0) Console.WriteLine($"renamed:      {report.Load.Renamed.Count} keys, e.g. {report.Load.Renamed[0].From} -> {report.Load.Renamed[0].To}");
        if (report.Load.Unexpected.Count > 0) Console.WriteLine($"ignored:      {string.Join(", ", report.Load.Unexpected)}");
        if (report.Load.Tied.Count > 0) Console.WriteLine($"tied:         {string.Join(", ", report.Load.Tied)}");
        Console.WriteLine($"tokenizer:    {(report.CopiedFiles.Count > 0 ? string.Join(", ", report.CopiedFiles) : "none")}");
        foreach (var note in report.Notes) Console.WriteLine($"note:         {note}");
        if (report.VerifyMaxAbsDiff is { } diff)
            Console.WriteLine($"verify:       max |source - converted| = {diff:E3}, cosine = {report.VerifyCosine:F6}");
        return 0;
    }
}
