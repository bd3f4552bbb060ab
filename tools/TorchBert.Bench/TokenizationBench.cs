using System.Text.Json.Nodes;
using MlBertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;
using TorchBert.Tokenization;

namespace TorchBert.Bench;

/// <summary>
/// Our HF-exact tokenizer (HF's basic tokenization in our code, WordPiece, special tokens, type ids, mask) against raw
/// Microsoft.ML.Tokenizers' BertTokenizer (ids only) on the same vocab and text: the cost of HF compatibility.
/// </summary>
public sealed class TokenizationBench(BenchOptions options, Report report, string vocabPath)
{
    public void Run()
    {
        report.Section("tokenization", "sentences/s, TorchBert BertTokenizer (HF-exact) vs raw Microsoft.ML.Tokenizers BertTokenizer");
        var lines = Corpus.Lines(options.Quick ? 2_000 : 5_000, 6);
        var ours = BertTokenizer.FromVocabFile(vocabPath, doLowerCase: true);
        var raw = MlBertTokenizer.Create(vocabPath);
        long sink = 0;
        var engines = new (string Name, Action Run)[]
        {
            ("TorchBert BertTokenizer", () => { foreach (var l in lines) sink += ours.Encode(l).Length; }),
            ("Microsoft.ML.Tokenizers", () => { foreach (var l in lines) sink += raw.EncodeToIds(l).Count; }),
        };
        foreach (var (_, run) in engines) run(); // warm-up (JIT, caches)
        var ms = engines.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < (options.Quick ? 3 : 7); r++)
            for (var e = 0; e < engines.Length; e++) ms[e].Add(Timer.Time(engines[e].Run));
        var rates = ms.Select(m => lines.Count / (Stats.Median(m) / 1000)).ToArray();
        report.Line($"{lines.Count} lines of 1–6 sentences ({lines.Sum(l => l.Length) / lines.Count} chars on average); checksum {sink}");
        for (var e = 0; e < engines.Length; e++)
        {
            report.Line($"  {engines[e].Name,-24} {rates[e],10:F0} sentences/s  (median of {ms[e].Count})");
            report.Value(engines[e].Name, Math.Round(rates[e], 1));
        }
        report.Line($"  ours / raw: {rates[0] / rates[1]:F2}");
        report.Value("ratio_ours_vs_raw", Math.Round(rates[0] / rates[1], 3));
    }
}
