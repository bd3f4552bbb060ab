using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>Receives consecutive pieces of a tensor's memory to fill; <paramref name="byteOffset"/> is from the tensor's start.</summary>
internal delegate void ChunkFiller(Span<byte> chunk, long byteOffset);

/// <summary>Receives consecutive pieces of a tensor's memory to read.</summary>
internal delegate void ChunkSink(ReadOnlySpan<byte> chunk);

/// <summary>
/// Direct access to a contiguous CPU tensor's bytes, in spans of at most <c>maxChunkBytes</c> (a span is limited to
/// 2^31 bytes, so larger tensors are visited through narrow() views of the same memory; nothing is copied).
/// </summary>
internal static class TensorMemory
{
    public const int DefaultChunkBytes = 1 << 30;

    public static long ByteSize(Tensor t) => checked(t.numel() * t.element_size());

    /// <summary>Lets <paramref name="fill"/> write the tensor's memory in order, chunk by chunk.</summary>
    public static void Fill(Tensor t, ChunkFiller fill, int maxChunkBytes = DefaultChunkBytes)
    {
        RequireCpuContiguous(t);
        long total = ByteSize(t);
        if (total == 0) return;
        if (total <= maxChunkBytes)
        {
            fill(t.bytes, 0);
            return;
        }
        long elementSize = t.element_size();
        long perChunk = Math.Max(1, maxChunkBytes / elementSize);
        using var flat = t.view(-1);
        for (long start = 0; start < flat.numel(); start += perChunk)
        {
            using var part = flat.narrow(0, start, Math.Min(perChunk, flat.numel() - start));
            fill(part.bytes, start * elementSize);
        }
    }

    /// <summary>Hands the tensor's memory to <paramref name="sink"/> in order, chunk by chunk.</summary>
    public static void Drain(Tensor t, ChunkSink sink, int maxChunkBytes = DefaultChunkBytes) =>
        Fill(t, (chunk, _) => sink(chunk), maxChunkBytes);

    private static void RequireCpuContiguous(Tensor t)
    {
        if (t.device_type != TorchSharp.DeviceType.CPU || !t.is_contiguous())
            throw new ArgumentException("tensor must be a contiguous CPU tensor");
    }
}
