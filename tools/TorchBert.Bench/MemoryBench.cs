using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// Native memory over many fill-mask calls: a MiniLM-sized BertForMaskedLM (random weights: no pretrained MLM head
/// exists here) with the bert-base-uncased vocab, the process RSS sampled after a warm-up and ten times after.
/// </summary>
public sealed class MemoryBench(BenchOptions options, Report report, string vocabPath)
{
    public void Run()
    {
        var calls = options.FillMaskCalls;
        report.Section("memory", $"process RSS over {calls:N0} fill-mask calls (MiniLM-sized MLM, random weights)");
        var tokenizer = BertTokenizer.FromVocabFile(vocabPath, doLowerCase: true);
        var config = new BertConfig
        {
            VocabSize = tokenizer.VocabSize, HiddenSize = 384, NumHiddenLayers = 6, NumAttentionHeads = 12, IntermediateSize = 1536,
        };
        var model = new BertForMaskedLM(config);
        model.eval();
        using var pipe = new FillMaskPipeline(model, tokenizer, new PipelineOptions { Device = CPU });
        string[] inputs = ["Hello, Mr. Bert! How is it [MASK]?", "The capital of France is [MASK] and the capital of Italy is [MASK]."];
        var warmUp = Math.Min(200, calls / 5);
        for (var i = 0; i < warmUp; i++) pipe.Run(inputs[i % 2]);
        var start = Rss();
        var samples = new List<(int Calls, long Rss)>();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 1; i <= calls; i++)
        {
            pipe.Run(inputs[i % 2]);
            if (i % (calls / 10) == 0) samples.Add((i, Rss()));
        }
        var end = samples[^1].Rss;
        report.Line($"after {warmUp} warm-up calls: RSS {start / 1e6:F1} MB; then " +
                    string.Join(", ", samples.Select(s => $"{s.Calls}: {(s.Rss - start) / 1e6:+0.0;-0.0} MB")));
        report.Line($"growth over {calls:N0} calls: {(end - start) / 1e6:+0.00;-0.00} MB ({(double)(end - start) / calls:F0} bytes/call); " +
                    $"max over samples {(samples.Max(s => s.Rss) - start) / 1e6:+0.0;-0.0} MB; {sw.Elapsed.TotalMilliseconds / calls:F2} ms/call");
        report.Value("calls", calls);
        report.Value("rss_start_bytes", start);
        report.Value("rss_growth_bytes", end - start);
        report.Value("max_growth_bytes", samples.Max(s => s.Rss) - start);
    }

    /// <summary>RSS after a full GC and glibc's malloc_trim, so freed-but-cached heap from earlier sections isn't counted.</summary>
    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Machine.TrimNativeHeap();
        return Machine.ProcStatus("VmRSS");
    }
}
