using System.Text.Json;

namespace TorchBert.Corpus;

/// <summary>A bad corpus, shard spec or output folder; the message names the file (and line) and the problem.</summary>
public sealed class CorpusJobException(string message, Exception? inner = null) : TorchBertException(message, inner);

/// <summary>
/// One record of a JSONL corpus: <c>{"id": ..., "text": ...}</c> on one line, as HF <c>datasets</c> writes with
/// <c>Dataset.to_json</c>. <see cref="Index"/> counts records (blank lines are skipped) from 0; <see cref="Line"/> is the
/// 1-based line number in the file.
/// </summary>
/// <param name="Index">0-based record index: the global position that decides the record's chunk.</param>
/// <param name="Line">1-based line number in the file (for error messages).</param>
/// <param name="Id">the <c>id</c> field (a JSON string, or an integer kept as its decimal text).</param>
/// <param name="Text">the <c>text</c> field.</param>
public sealed record CorpusRecord(long Index, long Line, string Id, string Text);

/// <summary>
/// Reads a JSONL corpus: one JSON object per line with a string (or integer) <c>id</c> and a string <c>text</c>; other
/// fields are ignored, blank lines skipped. Any other line is a <see cref="CorpusJobException"/> naming the file, line and
/// problem.
/// </summary>
public static class CorpusReader
{
    /// <summary>The field holding the record id (HF datasets' usual name).</summary>
    public const string IdField = "id";

    /// <summary>The field holding the text (HF datasets' usual name).</summary>
    public const string TextField = "text";

    /// <summary>Streams the records of <paramref name="path"/>, validating each line.</summary>
    public static IEnumerable<CorpusRecord> Read(string path)
    {
        if (!File.Exists(path)) throw new CorpusJobException(Directory.Exists(path) ? $"{path}: is a folder, not a JSONL file" : $"{path}: input file not found");
        return ReadLines(path);
    }

    private static IEnumerable<CorpusRecord> ReadLines(string path)
    {
        long line = 0, index = 0;
        using var reader = new StreamReader(path, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
        while (true)
        {
            string? text;
            try { text = reader.ReadLine(); }
            catch (System.Text.DecoderFallbackException e) { throw new CorpusJobException($"{path}:{line + 1}: not UTF-8 ({e.Message})", e); }
            if (text is null) yield break;
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            yield return Parse(path, line, index++, text);
        }
    }

    /// <summary>Parses one line (<paramref name="line"/> is 1-based, for the message).</summary>
    internal static CorpusRecord Parse(string path, long line, long index, string json)
    {
        string Where() => $"{path}:{line}";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new CorpusJobException($"{Where()}: not valid JSON ({e.Message})", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CorpusJobException($"{Where()}: expected a JSON object {{\"{IdField}\": ..., \"{TextField}\": ...}}, got a JSON {root.ValueKind.ToString().ToLowerInvariant()}");
            if (!root.TryGetProperty(IdField, out var id)) throw new CorpusJobException($"{Where()}: missing \"{IdField}\"");
            if (!root.TryGetProperty(TextField, out var text)) throw new CorpusJobException($"{Where()}: missing \"{TextField}\"");
            var idText = id.ValueKind switch
            {
                JsonValueKind.String => id.GetString()!,
                JsonValueKind.Number when id.TryGetInt64(out var n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => throw new CorpusJobException($"{Where()}: \"{IdField}\" must be a string or an integer, got {id.GetRawText()}"),
            };
            if (idText.Length == 0) throw new CorpusJobException($"{Where()}: \"{IdField}\" is empty");
            if (text.ValueKind != JsonValueKind.String)
                throw new CorpusJobException($"{Where()}: \"{TextField}\" must be a string, got a JSON {text.ValueKind.ToString().ToLowerInvariant()}");
            return new CorpusRecord(index, line, idText, text.GetString()!);
        }
    }
}

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/> (0-based, as Kubernetes' Indexed Job completion index). A shard owns
/// chunks <c>c</c> with <c>c % Count == Index</c>, so every chunk belongs to exactly one shard whatever the count.
/// </summary>
/// <param name="Index">this shard, 0 ≤ Index &lt; Count.</param>
/// <param name="Count">shards in the job (≥ 1).</param>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>The whole corpus in one shard.</summary>
    public static Shard Single => new(0, 1);

    /// <summary>Kubernetes' Indexed Job variable: this pod's completion index.</summary>
    public const string IndexVariable = "JOB_COMPLETION_INDEX";

    /// <summary>The variable the manifests set to the Job's <c>completions</c> (Kubernetes sets only the index).</summary>
    public const string CountVariable = "JOB_COMPLETIONS";

    /// <summary>True when this shard processes chunk <paramref name="chunk"/>.</summary>
    public bool Owns(long chunk) => chunk % Count == Index;

    /// <summary>Parses <c>I/N</c> (0 ≤ I &lt; N).</summary>
    public static Shard Parse(string spec)
    {
        var parts = spec.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, null, out var i)
                              || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, null, out var n))
            throw new ArgumentException($"shard must be I/N (e.g. 0/4: the first of 4 shards), got '{spec}'");
        return Create(i, n, $"'{spec}'");
    }

    /// <summary>
    /// <c>JOB_COMPLETION_INDEX</c>/<c>JOB_COMPLETIONS</c> from the environment; null when the index is unset. An index
    /// without the count, or values out of range, are errors.
    /// </summary>
    public static Shard? FromEnvironment(Func<string, string?>? getenv = null)
    {
        getenv ??= Environment.GetEnvironmentVariable;
        var index = getenv(IndexVariable);
        if (string.IsNullOrEmpty(index)) return null;
        var count = getenv(CountVariable);
        if (string.IsNullOrEmpty(count))
            throw new ArgumentException($"{IndexVariable}={index} is set but {CountVariable} is not: set it to the Job's completions (see deploy/k8s/job-embed.yaml)");
        if (!int.TryParse(index, System.Globalization.NumberStyles.None, null, out var i)) throw new ArgumentException($"{IndexVariable} must be an integer, got '{index}'");
        if (!int.TryParse(count, System.Globalization.NumberStyles.None, null, out var n)) throw new ArgumentException($"{CountVariable} must be an integer, got '{count}'");
        return Create(i, n, $"{IndexVariable}={index}, {CountVariable}={count}");
    }

    private static Shard Create(int i, int n, string what)
    {
        if (n < 1) throw new ArgumentException($"shard count must be >= 1, got {what}");
        if (i >= n) throw new ArgumentException($"shard index must be < the count (0-based), got {what}");
        return new Shard(i, n);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Index}/{Count}";
}
