using TorchBert.Training;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchBert.Cli;

/// <summary>
/// Inputs from the command line or <c>--input FILE.jsonl</c> (errors name file:line), and results printed as HF's
/// shape (<c>--json</c>), as JSONL (<c>--input</c>/<c>--output</c>, one result per line, written atomically) or for people.
/// </summary>
internal static class JsonLines
{
    /// <summary>
    /// Reads --input (each line parsed by <paramref name="parse"/>, errors naming file:line, 1-based; blank lines
    /// skipped; invalid UTF-8 is an error, never replaced) or takes the command-line inputs.
    /// </summary>
    public static List<T> Inputs<T>(ParseResult p, ModelOptions o, IReadOnlyList<T> fromArgs, Func<JsonNode, T> parse, string what)
    {
        var file = p.GetValue(o.Input);
        if (file is null)
        {
            if (fromArgs.Count == 0) throw new UsageException($"give {what} on the command line or --input FILE.jsonl");
            return fromArgs.ToList();
        }
        if (fromArgs.Count > 0) throw new UsageException($"give {what} either on the command line or with --input, not both");
        var items = new List<T>();
        foreach (var (line, text) in Lines(file))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            try { items.Add(parse(JsonNode.Parse(text) ?? throw new FormatException("null is not an input"))); }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException or UsageException)
            {
                throw new FormatException($"{file}:{line}: {Messages.Clean(e)}");
            }
        }
        if (items.Count == 0) throw new FormatException($"{file}: no inputs (one JSON value per line)");
        return items;
    }

    /// <summary>The lines of a UTF-8 text file with their 1-based numbers (the library's strict <see cref="Utf8TextFile"/>: a line that is not valid UTF-8 is an error naming it).</summary>
    public static IEnumerable<(int Line, string Text)> Lines(string file)
    {
        if (Directory.Exists(file)) throw new UsageException($"--input {file} is a folder; give a JSONL file");
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: input file not found");
        return Utf8TextFile.Lines(file);
    }

    /// <summary>A JSON string, or an object's <paramref name="key"/> string.</summary>
    public static string Str(JsonNode node, string key) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s
        : node is JsonObject o && o[key] is JsonValue k && k.TryGetValue<string>(out var t) ? t
        : throw new FormatException($"expected a JSON string or an object with \"{key}\"");

    /// <summary>Inputs per block: Ctrl-C is noticed between blocks.</summary>
    private const int Block = 256;

    /// <summary>
    /// Runs the inputs in blocks (a progress bar on stderr for --input; Ctrl-C stops between blocks, prints nothing
    /// more and leaves no partial --output) and prints: --output/--input as JSONL (one result per line), --json as HF's shape for what
    /// was given, else the human-readable form. HF's output shape comes from the library's task table
    /// (<see cref="TaskDescriptor.HfOutput"/>: one text is one input given as a single value, several are a list);
    /// without a <paramref name="task"/> (sentence embeddings, not an HF pipeline) one input's result stands alone, and
    /// <paramref name="jsonList"/> makes it a list even for one input.
    /// </summary>
    public static int Emit<TIn, TOut>(ParseResult p, ModelOptions o, IReadOnlyList<TIn> inputs, Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> run,
        Func<TIn, TOut, object> hfShape, Action<TIn, TOut> print, CancellationToken ct,
        TaskDescriptor? task = null, bool topKGiven = false, bool jsonList = false)
    {
        object single(object x) => task is null ? x : task.HfOutput([x], singleInput: true, topKGiven);
        object hfMany(IReadOnlyList<object> xs) => task is null ? xs : task.HfOutput(xs, singleInput: false);
        var streaming = p.GetValue(o.Input) is not null || p.GetValue(o.Output) is not null;
        if (!streaming)
        {
            // Ctrl-C stops between blocks and before anything is printed (exit 130, no partial output).
            var results = new List<TOut>(inputs.Count);
            for (int start = 0; start < inputs.Count; start += Block)
            {
                ct.ThrowIfCancellationRequested();
                results.AddRange(run(inputs.Skip(start).Take(Block).ToList()));
            }
            ct.ThrowIfCancellationRequested();
            if (p.GetValue(o.Json))
            {
                var shaped = inputs.Select((x, i) => hfShape(x, results[i])).ToList();
                Cli.WriteJson(shaped.Count == 1 && !jsonList ? single(shaped[0]) : hfMany(shaped));
            }
            else for (int i = 0; i < inputs.Count; i++) print(inputs[i], results[i]);
            return 0;
        }
        void Run(TextWriter writer)
        {
            var progress = p.GetValue(o.Input) is not null;
            for (int start = 0; start < inputs.Count; start += Block)
            {
                ct.ThrowIfCancellationRequested();
                var part = inputs.Skip(start).Take(Block).ToList();
                var results = run(part);
                for (int i = 0; i < part.Count; i++) writer.WriteLine(JsonSerializer.Serialize(single(hfShape(part[i], results[i])), Cli.Json));
                if (progress) Progress(start + part.Count, inputs.Count);
            }
        }
        if (p.GetValue(o.Output) is { } outPath)
            // Written whole or not at all: an error or Ctrl-C midway leaves no partial --output.
            AtomicFile.Write(outPath, (string temp) =>
            {
                using var writer = new StreamWriter(temp, false, new UTF8Encoding(false));
                Run(writer);
            });
        else Run(Console.Out);
        return 0;
    }

    /// <summary>Writes a whole file atomically (the library's <see cref="AtomicFile"/>), so a reader never sees half of it.</summary>
    public static void WriteAtomically(string path, string content) => AtomicFile.WriteAllText(path, content);

    private static void Progress(int done, int total)
    {
        const int width = 30;
        var filled = (int)((long)done * width / total);
        ProgressLine.Draw($"[{new string('#', filled)}{new string(' ', width - filled)}] {done}/{total}");
        if (done == total) ProgressLine.End();
    }
}
