namespace TorchBert.Checkpoints;

/// <summary>Finds and opens the weights of an HF model folder, or a single checkpoint file, by sniffing its format.</summary>
public static class CheckpointFiles
{
    /// <summary>The weight files HF's <c>from_pretrained</c> looks for, in its order of preference.</summary>
    public static IReadOnlyList<string> WeightFileNames { get; } =
        ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>Opens the first of <see cref="WeightFileNames"/> present in <paramref name="dir"/>.</summary>
    public static ICheckpointReader OpenFolder(string dir)
    {
        if (!Directory.Exists(dir)) throw new CheckpointException($"{dir}: not a directory");
        foreach (var name in WeightFileNames)
        {
            string file = Path.Combine(dir, name);
            if (File.Exists(file)) return Open(file);
        }
        throw new CheckpointException($"{dir}: no weights file found (looked for {string.Join(", ", WeightFileNames)})");
    }

    /// <summary>
    /// Opens one file: <c>*.index.json</c> → <see cref="ShardedSafeTensorsReader"/>; otherwise sniffed by content:
    /// <c>PK\x03\x04</c> → <see cref="TorchZipReader"/>; a pickle (<c>\x80</c>) → <see cref="TorchLegacyReader"/>;
    /// an 8-byte length followed by '{' → <see cref="SafeTensorsReader"/>.
    /// </summary>
    public static ICheckpointReader Open(string file) =>
        file.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase) ? ShardedSafeTensorsReader.Open(file) : OpenSingleFile(file);

    internal static ICheckpointReader OpenSingleFile(string file)
    {
        if (!File.Exists(file)) throw new CheckpointException($"{file}: file not found");
        var head = new byte[512];
        int n;
        using (var handle = FileRange.OpenRead(file))
            n = RandomAccess.Read(handle, head, 0);
        var h = head.AsSpan(0, n);
        if (h.StartsWith("PK\x03\x04"u8) || h.StartsWith("PK\x05\x06"u8)) return TorchZipReader.Open(file);
        if (h.Length > 0 && h[0] == 0x80) return TorchLegacyReader.Open(file);
        if (h.Length > 262 && h.Slice(257, 5).SequenceEqual("ustar"u8))
            throw new CheckpointException($"{file}: the tar-based torch format (before 0.4) is not supported");
        if (h.Length > 8 && h[8] == (byte)'{') return SafeTensorsReader.Open(file);
        throw new CheckpointException($"{file}: unrecognized checkpoint format (not safetensors, torch zip or torch legacy)");
    }
}
