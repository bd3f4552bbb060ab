using System.Buffers.Binary;
using System.IO.Compression;

namespace TorchBert.Tests.Checkpoints;

/// <summary>One tensor of a synthetic torch checkpoint: float32 storage <c>Key</c> of <c>Numel</c> elements.</summary>
internal sealed record SyntheticTensor(string Name, string Key, long Numel, long Offset, long[] Size, long[] Stride, string StorageType = "FloatStorage");

/// <summary>Builds torch checkpoints the way torch.save lays them out, around given pickles (synthetic or hostile).</summary>
internal static class TorchFiles
{
    /// <summary>A protocol-2 state dict pickle like torch.save writes: OrderedDict of _rebuild_tensor_v2 calls.</summary>
    public static byte[] StateDictPickle(IEnumerable<SyntheticTensor> tensors, bool legacy)
    {
        var p = new PickleBuilder().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
        foreach (var t in tensors)
        {
            p.Str(t.Name).Global("torch._utils", "_rebuild_tensor_v2").Mark()
                .Mark().Str("storage").Global("torch", t.StorageType).Str(t.Key).Str("cpu").Int(t.Numel);
            if (legacy) p.None();
            p.Tuple().BinPersId().Int(t.Offset).IntTuple(t.Size).IntTuple(t.Stride).False()
                .Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
        }
        return p.SetItems().Stop().ToArray();
    }

    /// <summary>A torch zip: <c>archive/data.pkl</c>, <c>archive/data/&lt;key&gt;</c>, <c>archive/version</c>; stored entries.</summary>
    public static void WriteZip(string path, byte[] dataPkl, IEnumerable<(string Key, byte[] Data)> storages,
        string folder = "archive", CompressionLevel level = CompressionLevel.NoCompression)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] data)
        {
            using var s = zip.CreateEntry(name, level).Open();
            s.Write(data);
        }
        Add($"{folder}/data.pkl", dataPkl);
        foreach (var (key, data) in storages) Add($"{folder}/data/{key}", data);
        Add($"{folder}/version", "3\n"u8.ToArray());
    }

    /// <summary>The legacy stream: magic, 1001, sys_info, the given pickle, key list, then [i64 count][bytes] per key.</summary>
    public static byte[] Legacy(byte[] statePickle, IEnumerable<(string Key, byte[] Data, int ElementSize)> storages, bool littleEndian = true)
    {
        var list = storages.ToList();
        var head = new PickleBuilder()
            .Proto().Raw(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).Stop()
            .Proto().Raw((byte)'M', 0xe9, 0x03).Stop()
            .Proto().EmptyDict().Mark().Str("protocol_version").Raw((byte)'M', 0xe9, 0x03)
            .Str("little_endian").Raw(littleEndian ? (byte)0x88 : (byte)0x89).SetItems().Stop()
            .Raw(statePickle);
        var keys = new PickleBuilder().Proto().EmptyList().Mark();
        foreach (var s in list) keys.Str(s.Key);
        head.Raw(keys.Appends().Stop().ToArray());
        var bytes = new List<byte>(head.ToArray());
        foreach (var s in list)
        {
            var count = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(count, s.Data.Length / s.ElementSize);
            bytes.AddRange(count);
            bytes.AddRange(s.Data);
        }
        return bytes.ToArray();
    }

    public static byte[] Floats(params float[] values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), values[i]);
        return b;
    }
}
