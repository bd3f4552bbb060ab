using System.Text.Json;

namespace TorchBert.Analysis;

/// <summary>One line of a training log: HF <c>log_history</c> entry (<c>step</c>, <c>epoch</c>, and its numbers).</summary>
public sealed record TrainingLogEntry(int Line, long Step, double? Epoch, IReadOnlyDictionary<string, double> Values);

/// <summary>
/// A trainer's <c>training_log.jsonl</c> (one HF <c>log_history</c> entry per line: training entries with <c>loss</c>,
/// <c>learning_rate</c>, <c>grad_norm</c>; evaluation entries with <c>eval_loss</c>, <c>eval_*</c>; a final summary
/// with <c>train_loss</c>, <c>train_runtime</c>), read into series against the step.
/// </summary>
public sealed class TrainingCurves
{
    /// <summary>Keys whose values must be numbers when present (the curves drawn from them).</summary>
    public static readonly string[] Plotted = ["loss", "eval_loss", "learning_rate"];

    private TrainingCurves(string source, IReadOnlyList<TrainingLogEntry> entries) { Source = source; Entries = entries; }

    /// <summary>The file the log was read from.</summary>
    public string Source { get; }
    /// <summary>The log entries, in file order.</summary>
    public IReadOnlyList<TrainingLogEntry> Entries { get; }

    /// <summary>Steps and values of the entries that have <paramref name="key"/>, in file order.</summary>
    public (double[] Steps, double[] Values) Series(string key)
    {
        var with = Entries.Where(e => e.Values.ContainsKey(key)).ToList();
        return (with.Select(e => (double)e.Step).ToArray(), with.Select(e => e.Values[key]).ToArray());
    }

    /// <summary>Every numeric key, <c>step</c> and <c>epoch</c> first, then in order of first appearance.</summary>
    public IReadOnlyList<string> Columns() =>
        new[] { "step", "epoch" }.Concat(Entries.SelectMany(e => e.Values.Keys).Distinct()).ToList();

    /// <summary>Reads a trainer's <c>trainer_state.json</c> (its <c>log_history</c>) or a checkpoint folder holding one.</summary>
    public static TrainingCurves Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such training log");
        return Parse(File.ReadLines(path), path);
    }

    /// <summary>Parses JSON lines; a bad line is a one-line error naming <paramref name="source"/> and the line.</summary>
    public static TrainingCurves Parse(IEnumerable<string> lines, string source)
    {
        var entries = new List<TrainingLogEntry>();
        int number = 0;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new InvalidDataException($"{source}:{number}: not a JSON object ({e.Message})"); }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}:{number}: not a JSON object");
                if (!root.TryGetProperty("step", out var stepElement) || !stepElement.TryGetInt64(out var step) || step < 0)
                    throw new InvalidDataException($"{source}:{number}: no 'step' (a non-negative integer), as HF's log_history entries have");
                double? epoch = null;
                var values = new Dictionary<string, double>();
                foreach (var p in root.EnumerateObject())
                {
                    if (p.Name == "step") continue;
                    if (p.Value.ValueKind != JsonValueKind.Number)
                    {
                        if (Plotted.Contains(p.Name) || p.Name == "epoch")
                            throw new InvalidDataException($"{source}:{number}: '{p.Name}' is {p.Value.ValueKind.ToString().ToLowerInvariant()} '{p.Value}', not a number");
                        continue;
                    }
                    var v = p.Value.GetDouble();
                    if (p.Name == "epoch") epoch = v;
                    else values[p.Name] = v;
                }
                entries.Add(new TrainingLogEntry(number, step, epoch, values));
            }
        }
        if (!entries.Any(e => Plotted.Any(e.Values.ContainsKey)))
            throw new InvalidDataException($"{source}: no entry has 'loss', 'eval_loss' or 'learning_rate': nothing to plot");
        return new TrainingCurves(source, entries);
    }
}
