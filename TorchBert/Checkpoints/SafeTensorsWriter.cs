using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>
/// Writes HF-compatible <c>.safetensors</c> files: tensors sorted by name, data contiguous in that order, the JSON
/// header padded with spaces so the data starts at a multiple of 8. Each tensor's bytes are streamed from (a contiguous
/// CPU copy of) the tensor, so memory stays bounded by the largest tensor. The file appears atomically (temp + move).
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>Names are written as UTF-8, escaping only what JSON requires (as HF's writer does).</summary>
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <paramref name="tensors"/> (and optional <c>__metadata__</c>) to <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">Duplicate or reserved names, or a dtype safetensors cannot hold.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IDictionary<string, string>? metadata = null)
    {
        var items = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        Validate(items);
        byte[] header = BuildHeader(items, metadata);
        AtomicFile.Write(path, (Stream fs) =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
            fs.Write(len);
            fs.Write(header);
            foreach (var (_, t) in items)
            {
                WriteData(fs, t);
            }
        });
    }

    /// <summary>Streams one tensor's bytes; copies (to CPU, contiguous) only when needed, never disposing the caller's tensor.</summary>
    private static void WriteData(Stream fs, Tensor t)
    {
        var cpu = t.device_type == TorchSharp.DeviceType.CPU ? t : t.cpu();
        try
        {
            var c = cpu.is_contiguous() ? cpu : cpu.contiguous();
            try
            {
                TensorMemory.Drain(c, chunk => fs.Write(chunk));
            }
            finally
            {
                if (!ReferenceEquals(c, cpu)) c.Dispose();
            }
        }
        finally
        {
            if (!ReferenceEquals(cpu, t)) cpu.Dispose();
        }
    }

    private static void Validate(List<KeyValuePair<string, Tensor>> items)
    {
        for (int i = 0; i < items.Count; i++)
        {
            var (name, t) = items[i];
            if (string.IsNullOrEmpty(name) || name == "__metadata__")
                throw new ArgumentException($"invalid tensor name '{name}'");
            if (i > 0 && items[i - 1].Key == name)
                throw new ArgumentException($"tensor name '{name}' appears twice");
            if (!CheckpointDTypes.IsSupported(t.dtype))
                throw new ArgumentException(
                    $"tensor '{name}': dtype {t.dtype} cannot be stored (supported: {string.Join(", ", CheckpointDTypes.SafeTensorsNames)})");
        }
    }

    /// <summary>JSON header (metadata first, then tensors in order, contiguous offsets), space-padded to 8 bytes.</summary>
    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> items, IDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in items)
            {
                long bytes = checked(t.numel() * CheckpointDTypes.ElementSize(t.dtype));
                w.WriteStartObject(name);
                w.WriteString("dtype", CheckpointDTypes.ToSafeTensors(t.dtype));
                w.WriteStartArray("shape");
                foreach (long d in t.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
