using System.Text;
using System.Text.RegularExpressions;

namespace TorchBert.Training;

/// <summary>Classification metrics as scikit-learn computes them.</summary>
public static class ClassificationMetrics
{
    /// <summary><c>accuracy_score</c>.</summary>
    public static double Accuracy(IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred)
    {
        CheckLengths(yTrue.Count, yPred.Count);
        if (yTrue.Count == 0) return 0;
        int correct = 0;
        for (int i = 0; i < yTrue.Count; i++) if (yTrue[i] == yPred[i]) correct++;
        return (double)correct / yTrue.Count;
    }

    /// <summary>
    /// <c>f1_score(average="macro")</c>: the mean over the labels present in either list of each label's
    /// F1 = 2·tp / (2·tp + fp + fn), 0 where that is 0/0 (sklearn's zero_division default).
    /// </summary>
    public static double MacroF1(IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred)
    {
        CheckLengths(yTrue.Count, yPred.Count);
        var labels = yTrue.Concat(yPred).Distinct().ToList();
        if (labels.Count == 0) return 0;
        double sum = 0;
        foreach (var label in labels)
        {
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < yTrue.Count; i++)
            {
                bool t = yTrue[i] == label, p = yPred[i] == label;
                if (t && p) tp++;
                else if (p) fp++;
                else if (t) fn++;
            }
            int denominator = 2 * tp + fp + fn;
            sum += denominator == 0 ? 0 : 2.0 * tp / denominator;
        }
        return sum / labels.Count;
    }

    internal static void CheckLengths(int a, int b)
    {
        if (a != b) throw new ArgumentException($"{a} true labels but {b} predictions");
    }
}

/// <summary>
/// Entity-level metrics as <c>seqeval</c> computes them by default (<c>mode=None</c>: the conlleval-style chunking of
/// <c>get_entities</c>, IOB1/IOB2/IOE/IOBES tags, micro average over entity types).
/// </summary>
public static class SeqEval
{
    /// <summary>An entity: its type and first and last token index (inclusive) in the flattened sequence.</summary>
    public readonly record struct Entity(string Type, int Start, int End);

    /// <summary>
    /// seqeval's <c>get_entities</c> (prefix tags): sentences are concatenated with an "O" after each, as seqeval does
    /// for nested lists.
    /// </summary>
    public static List<Entity> GetEntities(IReadOnlyList<IReadOnlyList<string>> sentences)
    {
        var seq = new List<string>();
        foreach (var s in sentences) { seq.AddRange(s); seq.Add("O"); }
        return GetEntities(seq);
    }

    /// <summary>seqeval's <c>get_entities</c> on one flat sequence.</summary>
    public static List<Entity> GetEntities(IReadOnlyList<string> seq)
    {
        string prevTag = "O", prevType = "";
        int begin = 0;
        var chunks = new List<Entity>();
        for (int i = 0; i <= seq.Count; i++)
        {
            var chunk = i < seq.Count ? seq[i] : "O";
            var tag = chunk.Length == 0 ? "" : chunk[..1];
            var rest = chunk.Length == 0 ? "" : chunk[1..];
            var dash = rest.IndexOf('-');
            var type = dash < 0 ? rest : rest[(dash + 1)..];   // chunk[1:].split('-', maxsplit=1)[-1]
            if (type.Length == 0) type = "_";
            if (EndOfChunk(prevTag, tag, prevType, type)) chunks.Add(new Entity(prevType, begin, i - 1));
            if (StartOfChunk(prevTag, tag, prevType, type)) begin = i;
            prevTag = tag;
            prevType = type;
        }
        return chunks;
    }

    private static bool EndOfChunk(string prevTag, string tag, string prevType, string type)
    {
        bool end = false;
        if (prevTag == "E") end = true;
        if (prevTag == "S") end = true;
        if (prevTag == "B" && tag == "B") end = true;
        if (prevTag == "B" && tag == "S") end = true;
        if (prevTag == "B" && tag == "O") end = true;
        if (prevTag == "I" && tag == "B") end = true;
        if (prevTag == "I" && tag == "S") end = true;
        if (prevTag == "I" && tag == "O") end = true;
        if (prevTag != "O" && prevTag != "." && prevType != type) end = true;
        return end;
    }

    private static bool StartOfChunk(string prevTag, string tag, string prevType, string type)
    {
        bool start = false;
        if (tag == "B") start = true;
        if (tag == "S") start = true;
        if (prevTag == "E" && tag == "E") start = true;
        if (prevTag == "E" && tag == "I") start = true;
        if (prevTag == "S" && tag == "E") start = true;
        if (prevTag == "S" && tag == "I") start = true;
        if (prevTag == "O" && tag == "E") start = true;
        if (prevTag == "O" && tag == "I") start = true;
        if (tag != "O" && tag != "." && prevType != type) start = true;
        return start;
    }

    /// <summary>Micro-averaged precision, recall, F1 over entities, and token accuracy (HF's run_ner reports all four).</summary>
    public static (double Precision, double Recall, double F1, double Accuracy) Score(
        IReadOnlyList<IReadOnlyList<string>> yTrue, IReadOnlyList<IReadOnlyList<string>> yPred)
    {
        ClassificationMetrics.CheckLengths(yTrue.Count, yPred.Count);
        int tokens = 0, correctTokens = 0;
        for (int i = 0; i < yTrue.Count; i++)
        {
            if (yTrue[i].Count != yPred[i].Count)
                throw new ArgumentException($"sentence {i}: {yTrue[i].Count} true tags but {yPred[i].Count} predicted");
            for (int j = 0; j < yTrue[i].Count; j++) { tokens++; if (yTrue[i][j] == yPred[i][j]) correctTokens++; }
        }
        var t = GetEntities(yTrue).ToHashSet();
        var p = GetEntities(yPred).ToHashSet();
        int correct = t.Intersect(p).Count();
        double precision = p.Count > 0 ? (double)correct / p.Count : 0;
        double recall = t.Count > 0 ? (double)correct / t.Count : 0;
        double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
        return (precision, recall, f1, tokens > 0 ? (double)correctTokens / tokens : 0);
    }
}

/// <summary>The official SQuAD v1.1 evaluation (<c>evaluate-v1.1.py</c>): exact match and token F1, ×100.</summary>
public static partial class SquadMetrics
{
    // string.punctuation
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    [GeneratedRegex(@"\b(a|an|the)\b")]
    private static partial Regex Articles();

    /// <summary>normalize_answer: lower, remove punctuation, remove articles, collapse whitespace.</summary>
    public static string NormalizeAnswer(string s)
    {
        var lower = s.ToLowerInvariant();
        var sb = new StringBuilder(lower.Length);
        foreach (var ch in lower) if (!Punctuation.Contains(ch)) sb.Append(ch);
        var noArticles = Articles().Replace(sb.ToString(), " ");
        return string.Join(' ', Split(noArticles));
    }

    /// <summary>Python's <c>str.split()</c>: runs of whitespace (Unicode, plus \x1c–\x1f) separate words.</summary>
    internal static string[] Split(string s)
    {
        var words = new List<string>();
        var sb = new StringBuilder();
        foreach (var ch in s)
        {
            if (char.IsWhiteSpace(ch) || ch is >= '\x1c' and <= '\x1f')
            {
                if (sb.Length > 0) { words.Add(sb.ToString()); sb.Clear(); }
            }
            else sb.Append(ch);
        }
        if (sb.Length > 0) words.Add(sb.ToString());
        return words.ToArray();
    }

    /// <summary>SQuAD exact match after the script's answer normalization.</summary>
    public static bool ExactMatch(string prediction, string groundTruth) => NormalizeAnswer(prediction) == NormalizeAnswer(groundTruth);

    /// <summary>SQuAD token-level F1 after the script's answer normalization.</summary>
    public static double F1(string prediction, string groundTruth)
    {
        var p = Split(NormalizeAnswer(prediction));
        var g = Split(NormalizeAnswer(groundTruth));
        var counts = g.GroupBy(x => x).ToDictionary(x => x.Key, x => x.Count());
        int same = 0;
        foreach (var token in p)
        {
            if (counts.TryGetValue(token, out var c) && c > 0) { same++; counts[token] = c - 1; }
        }
        if (same == 0) return 0;
        double precision = (double)same / p.Length, recall = (double)same / g.Length;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>evaluate(): for each question the best over its ground truths; means ×100.</summary>
    public static (double ExactMatch, double F1) Score(IReadOnlyList<string> predictions, IReadOnlyList<IReadOnlyList<string>> groundTruths)
    {
        ClassificationMetrics.CheckLengths(groundTruths.Count, predictions.Count);
        if (predictions.Count == 0) return (0, 0);
        double em = 0, f1 = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            em += groundTruths[i].Any(g => ExactMatch(predictions[i], g)) ? 1 : 0;
            f1 += groundTruths[i].Count == 0 ? 0 : groundTruths[i].Max(g => F1(predictions[i], g));
        }
        return (100.0 * em / predictions.Count, 100.0 * f1 / predictions.Count);
    }
}
