using System.Text.Json;
using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>One tensor entry of a safetensors header; offsets are relative to the data section.</summary>
internal sealed record SafeTensorsEntry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

/// <summary>
/// Parses and validates a safetensors header:
/// <code>[u64 LE N][N bytes JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, "__metadata__": {..}}][data]</code>
/// Every inconsistency is a <see cref="CheckpointException"/> naming the file and the tensor.
/// </summary>
internal static class SafeTensorsHeader
{
    /// <summary>HF safetensors refuses headers above 100 MB; so do we.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static (List<SafeTensorsEntry> Entries, Dictionary<string, string> Metadata) Parse(
        byte[] json, long dataLength, string path)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new CheckpointException($"{path}: the safetensors header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: invalid JSON in the safetensors header: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: the safetensors header is not a JSON object");
            var entries = new List<SafeTensorsEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new CheckpointException($"{path}: the safetensors header names '{prop.Name}' twice");
                if (prop.Name == "__metadata__")
                    ReadMetadata(prop.Value, metadata, path);
                else
                    entries.Add(ReadEntry(prop.Name, prop.Value, dataLength, path));
            }
            CheckNoOverlap(entries, path);
            return (entries, metadata);
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{path}: __metadata__ is not a JSON object");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointException($"{path}: __metadata__ value '{m.Name}' is not a string");
            metadata[m.Name] = m.Value.GetString()!;
        }
    }

    private static SafeTensorsEntry ReadEntry(string name, JsonElement info, long dataLength, string path)
    {
        string where = $"{path}: tensor '{name}'";
        if (info.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{where}: entry is not a JSON object");
        if (!info.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new CheckpointException($"{where}: missing string 'dtype'");
        string dtypeName = dt.GetString()!;
        if (!CheckpointDTypes.TryFromSafeTensors(dtypeName, out var dtype))
            throw new CheckpointException(
                $"{where}: unknown dtype '{dtypeName}' (supported: {string.Join(", ", CheckpointDTypes.SafeTensorsNames)})");
        long[] shape = ReadInts(info, "shape", where, expectedCount: null);
        long[] offsets = ReadInts(info, "data_offsets", where, expectedCount: 2);
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw new CheckpointException($"{where}: data_offsets [{begin}, {end}] begin after their end");
        if (end > dataLength)
            throw new CheckpointException(
                $"{where}: data_offsets [{begin}, {end}] run past the data section ({dataLength} bytes)");
        long bytes;
        try
        {
            long numel = 1;
            foreach (long d in shape) numel = checked(numel * d);
            bytes = checked(numel * CheckpointDTypes.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw new CheckpointException($"{where}: shape [{string.Join(", ", shape)}] overflows 64-bit sizes");
        }
        if (bytes != end - begin)
            throw new CheckpointException(
                $"{where}: shape [{string.Join(", ", shape)}] of {dtypeName} needs {bytes} bytes but data_offsets [{begin}, {end}] hold {end - begin}");
        return new SafeTensorsEntry(name, dtype, shape, begin, end);
    }

    private static long[] ReadInts(JsonElement info, string key, string where, int? expectedCount)
    {
        if (!info.TryGetProperty(key, out var arr) || arr.ValueKind != JsonValueKind.Array)
            throw new CheckpointException($"{where}: missing array '{key}'");
        int count = arr.GetArrayLength();
        if (expectedCount is { } n && count != n)
            throw new CheckpointException($"{where}: '{key}' has {count} values, expected {n}");
        if (count > 64)
            throw new CheckpointException($"{where}: '{key}' has {count} dimensions (at most 64)");
        var result = new long[count];
        int i = 0;
        foreach (var v in arr.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x))
                throw new CheckpointException($"{where}: '{key}' value {v.GetRawText()} is not a 64-bit integer");
            if (x < 0)
                throw new CheckpointException($"{where}: '{key}' value {x} is negative");
            result[i++] = x;
        }
        return result;
    }

    /// <summary>Non-empty tensors may not share bytes (gaps are tolerated).</summary>
    private static void CheckNoOverlap(List<SafeTensorsEntry> entries, string path)
    {
        var byStart = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < byStart.Count; i++)
        {
            var (a, b) = (byStart[i - 1], byStart[i]);
            if (b.Begin < a.End)
                throw new CheckpointException(
                    $"{path}: tensors '{a.Name}' [{a.Begin}, {a.End}] and '{b.Name}' [{b.Begin}, {b.End}] overlap");
        }
    }
}
