namespace TorchBert.Modeling;

/// <summary>What loading a checkpoint did, key by key (HF's missing/unexpected lists, plus renames and ties).</summary>
public sealed class LoadReport
{
    /// <summary>The checkpoint read.</summary>
    public string Source { get; init; } = "";
    /// <summary>The checkpoint's format.</summary>
    public string Format { get; init; } = "";
    /// <summary>Checkpoint key → model key, for keys renamed on the way (legacy gamma/beta, bert. prefix added or removed).</summary>
    public List<(string From, string To)> Renamed { get; } = [];
    /// <summary>Checkpoint keys the model has no place for (e.g. cls.seq_relationship.*, position_ids buffers); ignored.</summary>
    public List<string> Unexpected { get; } = [];
    /// <summary>Model keys that share another parameter (decoder weight ↔ word embeddings, decoder.bias ↔ bias).</summary>
    public List<string> Tied { get; } = [];
    /// <summary>Head keys absent from the checkpoint and initialised at random (HF's "newly initialized" warning).</summary>
    public List<string> NewlyInitialized { get; } = [];
    /// <summary>Number of tensors loaded into the model.</summary>
    public int Loaded { get; set; }

    /// <inheritdoc/>
    public override string ToString()
    {
        var lines = new List<string> { $"loaded {Loaded} tensors from {Source} ({Format})" };
        if (Renamed.Count > 0) lines.Add($"renamed {Renamed.Count}: {string.Join(", ", Renamed.Take(6).Select(r => $"{r.From} -> {r.To}"))}{(Renamed.Count > 6 ? ", ..." : "")}");
        if (Unexpected.Count > 0) lines.Add($"ignored {Unexpected.Count}: {string.Join(", ", Unexpected)}");
        if (Tied.Count > 0) lines.Add($"tied: {string.Join(", ", Tied)}");
        if (NewlyInitialized.Count > 0) lines.Add($"newly initialized (not in the checkpoint): {string.Join(", ", NewlyInitialized)}");
        return string.Join(Environment.NewLine, lines);
    }
}
