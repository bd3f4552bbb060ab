using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchBert.Training;

/// <summary>A data file that cannot be used: the message names the file, the line and the value.</summary>
public sealed class DataFileException(string message) : TorchBertException(message);

/// <summary>One record of a CSV or JSONL file: its fields by column name and the line it starts on.</summary>
public sealed record DataRecord(IReadOnlyDictionary<string, JsonNode?> Fields, int Line, string File)
{
    /// <summary>"file:line", for error messages.</summary>
    public string Where => $"{File}:{Line}";

    /// <summary>True when the record has a non-null value for <paramref name="column"/>.</summary>
    public bool Has(string column) => Fields.TryGetValue(column, out var v) && v is not null;

    /// <summary>The column as text (numbers as written); an error naming file and line when missing.</summary>
    public string Text(string column)
    {
        if (!Fields.TryGetValue(column, out var v) || v is null)
            throw new DataFileException($"{Where}: no '{column}' value (columns: {string.Join(", ", Fields.Keys)})");
        return v is JsonValue jv && jv.TryGetValue(out string? s) ? s : v.ToJsonString();
    }

    /// <summary>The column as a list of integers (pre-tokenized ids: a JSON array, or space-separated in CSV).</summary>
    public long[] Ints(string column)
    {
        var v = Fields.GetValueOrDefault(column) ?? throw new DataFileException($"{Where}: no '{column}' value");
        try
        {
            if (v is JsonArray a) return a.Select(x => x!.GetValue<long>()).ToArray();
            var text = v.GetValue<string>().Trim().TrimStart('[').TrimEnd(']');
            return text.Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException or NullReferenceException)
        {
            throw new DataFileException($"{Where}: '{column}' is not a list of integers: {Shorten(v.ToJsonString())}");
        }
    }

    /// <summary>The column as a list of strings (a JSON array).</summary>
    public string[] Strings(string column)
    {
        var v = Fields.GetValueOrDefault(column) ?? throw new DataFileException($"{Where}: no '{column}' value (columns: {string.Join(", ", Fields.Keys)})");
        if (v is not JsonArray a) throw new DataFileException($"{Where}: '{column}' is not a list: {Shorten(v.ToJsonString())}");
        return a.Select(x => x is JsonValue jv && jv.TryGetValue(out string? s) ? s : x?.ToJsonString() ?? "null").ToArray();
    }

    internal static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}

/// <summary>Readers for the training data formats: CSV (RFC 4180, header row), TSV and JSON Lines.</summary>
public static class DataFiles
{
    /// <summary>CSV/TSV (by extension; anything else is read as JSONL) → records; an empty file is an error.</summary>
    public static List<DataRecord> ReadTable(string path)
    {
        if (!File.Exists(path)) throw new DataFileException($"{path}: file not found");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var records = ext is ".csv" or ".tsv" ? ReadCsv(path, ext == ".tsv" ? '\t' : ',') : ReadJsonLines(path);
        if (records.Count == 0) throw new DataFileException($"{path}: no records (the file is empty)");
        return records;
    }

    /// <summary>Reads a JSON Lines file (one object per line); errors name the file and line.</summary>
    public static List<DataRecord> ReadJsonLines(string path)
    {
        var result = new List<DataRecord>();
        foreach (var (lineNo, line) in Lines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(line); }
            catch (JsonException e) { throw new DataFileException($"{path}:{lineNo}: invalid JSON ({e.Message}): {DataRecord.Shorten(line)}"); }
            if (node is not JsonObject o) throw new DataFileException($"{path}:{lineNo}: not a JSON object: {DataRecord.Shorten(line)}");
            result.Add(new DataRecord(o.ToDictionary(kv => kv.Key, kv => kv.Value), lineNo, path));
        }
        return result;
    }

    /// <summary>Reads a CSV/TSV file with a header row (RFC 4180 quoting); errors name the file and line.</summary>
    public static List<DataRecord> ReadCsv(string path, char separator = ',')
    {
        var text = ReadAllText(path);
        var rows = ParseCsv(text, separator, path);
        if (rows.Count == 0) return [];
        var header = rows[0].Fields;
        var dup = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new DataFileException($"{path}:1: column '{dup.Key}' appears twice in the header");
        var result = new List<DataRecord>();
        foreach (var (fields, line) in rows.Skip(1))
        {
            if (fields.Count == 1 && fields[0].Length == 0) continue; // blank line
            if (fields.Count != header.Count)
                throw new DataFileException($"{path}:{line}: {fields.Count} fields, the header has {header.Count} ({string.Join(",", header)})");
            var d = new Dictionary<string, JsonNode?>();
            for (int i = 0; i < header.Count; i++) d[header[i]] = JsonValue.Create(fields[i]);
            result.Add(new DataRecord(d, line, path));
        }
        return result;
    }

    /// <summary>The file's lines with 1-based numbers; invalid UTF-8 is a <see cref="DataFileException"/> naming file:line (<see cref="Utf8TextFile"/>).</summary>
    internal static IEnumerable<(int Line, string Text)> Lines(string path) => Utf8TextFile.Lines(path, m => new DataFileException(m));

    /// <summary>The whole file (a UTF-8 BOM skipped); invalid UTF-8 is a <see cref="DataFileException"/> naming file:line.</summary>
    internal static string ReadAllText(string path) => Utf8TextFile.ReadAllText(path, m => new DataFileException(m));

    /// <summary>RFC 4180: quoted fields may hold separators, newlines and doubled quotes.</summary>
    internal static List<(List<string> Fields, int Line)> ParseCsv(string text, char sep, string path)
    {
        var rows = new List<(List<string>, int)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, rowLine = 1, i = 0;
        bool quoted = false, any = false;
        while (i < text.Length)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                    quoted = false; i++; continue;
                }
                if (c == '\n') line++;
                field.Append(c); i++; continue;
            }
            if (c == '"' && field.Length == 0) { quoted = true; any = true; i++; continue; }
            if (c == sep) { fields.Add(field.ToString()); field.Clear(); any = true; i++; continue; }
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') { i++; continue; }
            if (c == '\n')
            {
                fields.Add(field.ToString()); field.Clear();
                rows.Add((fields, rowLine));
                fields = []; any = false;
                line++; rowLine = line; i++; continue;
            }
            field.Append(c); any = true; i++;
        }
        if (quoted) throw new DataFileException($"{path}:{rowLine}: a quoted field is not closed");
        if (any || field.Length > 0) { fields.Add(field.ToString()); rows.Add((fields, rowLine)); }
        return rows;
    }
}
