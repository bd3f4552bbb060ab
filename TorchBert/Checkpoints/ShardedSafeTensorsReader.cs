using System.Text.Json;

namespace TorchBert.Checkpoints;

/// <summary>
/// Reads a sharded checkpoint through its HF index (<c>model.safetensors.index.json</c>, or
/// <c>pytorch_model.bin.index.json</c> whose shards are torch files):
/// <code>{"metadata": {"total_size": ...}, "weight_map": {"tensor name": "model-00001-of-00002.safetensors", ...}}</code>
/// Each shard is opened once (its format sniffed) and stays open until disposal; tensors come in weight_map order.
/// </summary>
public sealed class ShardedSafeTensorsReader : ICheckpointReader
{
    private readonly List<ICheckpointReader> _shards;

    private ShardedSafeTensorsReader(string path, List<ICheckpointReader> shards, IReadOnlyList<CheckpointTensor> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        _shards = shards;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <inheritdoc/>
    public string Path { get; }
    /// <inheritdoc/>
    public string Format => _shards.Count > 0 ? $"sharded {_shards[0].Format}" : "sharded";
    /// <inheritdoc/>
    public IReadOnlyList<CheckpointTensor> Tensors { get; }

    /// <summary>The index's <c>metadata</c>: string values as-is, other values as JSON text (e.g. total_size).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The opened shard readers, in order of first use in the weight map.</summary>
    public IReadOnlyList<ICheckpointReader> Shards => _shards;

    /// <summary>Opens the index and every shard; a missing shard or a tensor absent from its shard is a <see cref="CheckpointException"/>.</summary>
    public static ShardedSafeTensorsReader Open(string indexPath)
    {
        var (weightMap, metadata) = ReadIndex(indexPath);
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var shards = new List<ICheckpointReader>();
        try
        {
            var byFile = new Dictionary<string, Dictionary<string, CheckpointTensor>>(StringComparer.Ordinal);
            var tensors = new List<CheckpointTensor>(weightMap.Count);
            foreach (var (name, file) in weightMap)
            {
                if (!byFile.TryGetValue(file, out var shardTensors))
                {
                    string shardPath = System.IO.Path.Combine(dir, file);
                    if (!File.Exists(shardPath))
                        throw new CheckpointException($"{indexPath}: shard '{file}' (holding '{name}') does not exist");
                    var shard = CheckpointFiles.OpenSingleFile(shardPath);
                    shards.Add(shard);
                    shardTensors = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
                    foreach (var t in shard.Tensors) shardTensors[t.Name] = t;
                    byFile[file] = shardTensors;
                }
                tensors.Add(shardTensors.TryGetValue(name, out var tensor)
                    ? tensor
                    : throw new CheckpointException($"{indexPath}: weight_map puts '{name}' in shard '{file}', which has no such tensor"));
            }
            return new ShardedSafeTensorsReader(indexPath, shards, tensors, metadata);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }

    private static (List<(string Name, string File)>, Dictionary<string, string>) ReadIndex(string indexPath)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(indexPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{indexPath}: cannot read the index: {e.Message}", e);
        }
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new CheckpointException($"{indexPath}: the index is not valid UTF-8");
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{indexPath}: the index has no 'weight_map' object");
            var weightMap = new List<(string, string)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (!seen.Add(p.Name)) throw new CheckpointException($"{indexPath}: weight_map names '{p.Name}' twice");
                if (p.Value.ValueKind != JsonValueKind.String || !IsPlainRelative(p.Value.GetString()!))
                    throw new CheckpointException($"{indexPath}: weight_map entry '{p.Name}' is not a shard file name in the index's folder");
                weightMap.Add((p.Name, p.Value.GetString()!));
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (doc.RootElement.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
                foreach (var m in meta.EnumerateObject())
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
            return (weightMap, metadata);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{indexPath}: invalid JSON: {e.Message}", e);
        }
    }

    /// <summary>Shard names stay inside the index's folder: no rooted paths, no "..", no index files.</summary>
    private static bool IsPlainRelative(string file) =>
        file.Length > 0 && !System.IO.Path.IsPathRooted(file)
        && !file.Split('/', '\\').Any(part => part is "" or "." or "..")
        && !file.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase);
}
