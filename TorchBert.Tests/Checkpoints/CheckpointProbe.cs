using TorchBert.Checkpoints;

namespace TorchBert.Tests.Checkpoints;

internal static class CheckpointProbe
{
    /// <summary>Opens <paramref name="path"/> by sniffing and loads every tensor; returns how many loaded.</summary>
    public static int OpenAndLoadAll(string path) => OpenAndLoadAll(() => CheckpointFiles.Open(path));

    public static int OpenAndLoadAll(Func<ICheckpointReader> open)
    {
        using var reader = open();
        foreach (var t in reader.Tensors)
            t.Load().Dispose();
        return reader.Tensors.Count;
    }

    /// <summary>A safetensors file from a header JSON string and <paramref name="dataLength"/> zero bytes.</summary>
    public static byte[] SafeTensors(string json, int dataLength, ulong? declaredLength = null)
    {
        var header = System.Text.Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataLength];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }
}
