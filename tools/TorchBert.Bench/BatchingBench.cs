using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// The padding-aware batching lever: 256 sentences of mixed lengths in batches of 32, each padded to its longest row,
/// in input order vs sorted by length (what every pipeline now does for lists longer than a batch:
/// <c>PipelineOptions.SortByLength</c>, on by default).
/// </summary>
public sealed class BatchingBench(BenchOptions options, Report report, string modelDir, BertTokenizer tokenizer)
{
    public void Run()
    {
        report.Section("batching", "256 mixed-length sentences in batches of 32: input order vs sorted by length");
        using var engine = new TorchBertEngine(BertModel.FromPretrained(modelDir, new PretrainedOptions { Device = CPU }));
        var lines = Corpus.Lines(256, 8, seed: 11);
        var encoded = lines.Select(l => tokenizer.Encode(l, options: new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = 256 })).ToList();
        var unsorted = Batches(encoded);
        var sorted = Batches(encoded.OrderBy(e => e.Length).ToList());
        var engines = new (string Name, List<Batch> Batches)[] { ("input order", unsorted), ("sorted by length", sorted) };
        foreach (var (_, batches) in engines) engine.Run(batches[0]);
        var ms = engines.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < (options.Quick ? 1 : 3); r++)
            for (var e = 0; e < engines.Length; e++)
                ms[e].Add(Timer.Time(() => { foreach (var b in engines[e].Batches) engine.Run(b); }));
        for (var e = 0; e < engines.Length; e++)
        {
            var padded = engines[e].Batches.Sum(b => (long)b.Size * b.Length);
            report.Line($"  {engines[e].Name,-18} {Stats.Median(ms[e]),8:F0} ms  ({padded} positions computed for {encoded.Sum(x => x.Length)} real tokens)");
            report.Value(engines[e].Name, Math.Round(Stats.Median(ms[e]), 1));
        }
        var speedup = Stats.Median(ms[0]) / Stats.Median(ms[1]);
        report.Line($"  speedup from sorting: {speedup:F2}×");
        report.Value("speedup", Math.Round(speedup, 3));
    }

    private static List<Batch> Batches(IReadOnlyList<BertEncoding> rows) =>
        rows.Chunk(32).Select(chunk =>
        {
            var t = chunk.Max(e => e.Length);
            var (ids, mask, types) = (new long[chunk.Length * t], new long[chunk.Length * t], new long[chunk.Length * t]);
            for (var r = 0; r < chunk.Length; r++)
            {
                Array.Copy(chunk[r].InputIds, 0, ids, r * t, chunk[r].Length);
                Array.Copy(chunk[r].AttentionMask, 0, mask, r * t, chunk[r].Length);
                Array.Copy(chunk[r].TokenTypeIds, 0, types, r * t, chunk[r].Length);
            }
            return new Batch(chunk.Length, t, ids, mask, types);
        }).ToList();
}
