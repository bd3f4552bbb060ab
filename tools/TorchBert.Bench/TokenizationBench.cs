using System.Text.Json.Nodes;
using MlBertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;
using TorchBert.Tokenization;

namespace TorchBert.Bench;

/// <summary>
/// Our HF-exact tokenizer (HF's basic tokenization in our code, WordPiece, special tokens, type ids, mask, tokens,
/// offsets) against raw Microsoft.ML.Tokenizers' BertTokenizer (ids only) on the same vocab and text: the cost of HF
/// compatibility. Two corpora: the benchmark's 16 sentences recombined (few distinct words), and words drawn from the
/// whole vocabulary with Zipf frequencies, a fifth of them made unseen (many distinct words, long WordPiece splits).
/// (A per-word cache of WordPiece results was tried: 1.1× raw on the first corpus but 0.3–0.4× on the second, where
/// keeping 60 000 new entries alive costs more than it saves; not kept.)
/// </summary>
public sealed class TokenizationBench(BenchOptions options, Report report, string vocabPath)
{
    public void Run()
    {
        report.Section("tokenization", "sentences/s, TorchBert BertTokenizer (HF-exact) vs raw Microsoft.ML.Tokenizers BertTokenizer");
        var count = options.Quick ? 2_000 : 5_000;
        var raw = MlBertTokenizer.Create(vocabPath);
        var ours = BertTokenizer.FromVocabFile(vocabPath, doLowerCase: true);
        var corpora = new (string Name, List<string> Lines)[]
        {
            ("sentences", Corpus.Lines(count, 6)),
            ("zipf words", ZipfLines(count, ours)),
        };
        foreach (var (name, lines) in corpora)
        {
            var rounds = options.Quick ? 3 : 7;
            long sink = 0;
            var engines = new (string Name, Action Run)[]
            {
                ("TorchBert BertTokenizer", () => { foreach (var l in lines) sink += ours.Encode(l).Length; }),
                ("Microsoft.ML.Tokenizers", () => { foreach (var l in lines) sink += raw.EncodeToIds(l).Count; }),
            };
            foreach (var (_, run) in engines) run(); // warm-up (JIT)
            var ms = engines.Select(_ => new List<double>()).ToArray();
            for (var r = 0; r < rounds; r++)
                for (var e = 0; e < engines.Length; e++) ms[e].Add(Timer.Time(engines[e].Run));
            var rates = ms.Select(m => lines.Count / (Stats.Median(m) / 1000)).ToArray();
            var words = lines.SelectMany(l => l.Split(' ')).ToList();
            report.Line($"{name}: {lines.Count} lines, {lines.Sum(l => l.Length) / lines.Count} chars on average, " +
                        $"{words.Distinct().Count()} distinct of {words.Count} words; checksum {sink}");
            var json = new JsonObject();
            for (var e = 0; e < engines.Length; e++)
            {
                report.Line($"  {engines[e].Name,-24} {rates[e],10:F0} sentences/s  (median of {ms[e].Count})");
                json[engines[e].Name] = Math.Round(rates[e], 1);
            }
            report.Line($"  ours / raw: {rates[0] / rates[1]:F2}");
            json["ratio_ours_vs_raw"] = Math.Round(rates[0] / rates[1], 3);
            report.Value(name, json);
        }
    }

    /// <summary>
    /// Lines of 10–60 words drawn from the vocabulary's whole words with Zipf(1) frequencies, every fifth word made
    /// unseen by a random letter suffix, some capitalised and followed by punctuation.
    /// </summary>
    private static List<string> ZipfLines(int count, BertTokenizer tokenizer, int seed = 5)
    {
        var words = tokenizer.Vocab.Keys.Where(w => w.Length > 1 && char.IsLetter(w[0]) && w.All(char.IsLetter)).ToArray();
        var cumulative = new double[words.Length];
        double sum = 0;
        for (var i = 0; i < words.Length; i++) cumulative[i] = sum += 1.0 / (i + 1);
        var rng = new Random(seed);
        string Word()
        {
            var i = Array.BinarySearch(cumulative, rng.NextDouble() * sum);
            var w = words[i < 0 ? ~i : i];
            if (rng.Next(5) == 0) w += new string(Enumerable.Range(0, 2 + rng.Next(5)).Select(_ => (char)('a' + rng.Next(26))).ToArray());
            if (rng.Next(8) == 0) w = char.ToUpperInvariant(w[0]) + w[1..];
            if (rng.Next(10) == 0) w += ",.;!?"[rng.Next(5)];
            return w;
        }
        return Enumerable.Range(0, count).Select(_ => string.Join(' ', Enumerable.Range(0, 10 + rng.Next(51)).Select(_ => Word()))).ToList();
    }
}
