using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace TorchBert.Checkpoints;

/// <summary>A zip entry with the file offset of its data (just past its local header).</summary>
internal sealed record ZipEntry(string Name, int Method, long CompressedSize, long UncompressedSize, long DataOffset)
{
    public const int Stored = 0, Deflated = 8;
}

/// <summary>
/// Minimal zip central-directory reader (with ZIP64), enough for torch's archives: it yields each entry's data offset
/// so stored data can be read in place. Layout: [local header + data]* [central directory] [zip64 EOCD + locator]? [EOCD].
/// All sizes and offsets are checked against the file length; nothing larger than the central directory is allocated.
/// </summary>
internal static class ZipDirectory
{
    private const uint EocdSig = 0x06054b50, Zip64EocdSig = 0x06064b50, Zip64LocatorSig = 0x07064b50;
    private const uint CentralSig = 0x02014b50, LocalSig = 0x04034b50;

    public static List<ZipEntry> Read(SafeFileHandle handle, long fileLength, string path)
    {
        var (count, cdOffset, cdSize) = FindCentralDirectory(handle, fileLength, path);
        if (cdOffset > fileLength || cdSize > fileLength - cdOffset || count > cdSize / 46)
            throw Bad(path, $"central directory (offset {cdOffset}, {cdSize} bytes, {count} entries) does not fit the file");
        var cd = new byte[cdSize];
        FileRange.ReadExactly(handle, cd, cdOffset, path);
        var entries = new List<ZipEntry>((int)count);
        int p = 0;
        for (long i = 0; i < count; i++)
        {
            if (p + 46 > cd.Length || U32(cd, p) != CentralSig) throw Bad(path, $"central directory entry {i} is corrupt");
            int flags = U16(cd, p + 8), method = U16(cd, p + 10);
            long comp = U32(cd, p + 20), uncomp = U32(cd, p + 24), local = U32(cd, p + 42);
            int nameLen = U16(cd, p + 28), extraLen = U16(cd, p + 30), commentLen = U16(cd, p + 32);
            if (p + 46L + nameLen + extraLen + commentLen > cd.Length) throw Bad(path, $"central directory entry {i} is truncated");
            string name = Encoding.UTF8.GetString(cd, p + 46, nameLen);
            ApplyZip64(cd.AsSpan(p + 46 + nameLen, extraLen), ref uncomp, ref comp, ref local);
            if ((flags & 1) != 0) throw Bad(path, $"entry '{name}' is encrypted");
            entries.Add(new ZipEntry(name, method, comp, uncomp, DataOffset(handle, fileLength, local, comp, name, path)));
            p += 46 + nameLen + extraLen + commentLen;
        }
        return entries;
    }

    /// <summary>Finds the EOCD in the last 64 KiB + 22 bytes, then the ZIP64 EOCD if a locator precedes it.</summary>
    private static (long Count, long Offset, long Size) FindCentralDirectory(SafeFileHandle handle, long fileLength, string path)
    {
        int tailLen = (int)Math.Min(fileLength, 22 + 0xFFFF);
        var tail = new byte[tailLen];
        FileRange.ReadExactly(handle, tail, fileLength - tailLen, path);
        int at = -1;
        for (int i = tailLen - 22; i >= 0; i--)
            if (U32(tail, i) == EocdSig && i + 22 + U16(tail, i + 20) <= tailLen) { at = i; break; }
        if (at < 0) throw Bad(path, "no end-of-central-directory record (not a zip, or truncated)");
        if (U16(tail, at + 4) != 0 && U16(tail, at + 4) != 0xFFFF) throw Bad(path, "multi-disk archives are not supported");
        long count = U16(tail, at + 10), size = U32(tail, at + 12), offset = U32(tail, at + 16);
        if (at >= 20 && U32(tail, at - 20) == Zip64LocatorSig)
        {
            long z64 = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(tail.AsSpan(at - 12)), long.MaxValue);
            if (z64 > fileLength - 56) throw Bad(path, "ZIP64 end-of-central-directory offset is outside the file");
            var rec = new byte[56];
            FileRange.ReadExactly(handle, rec, z64, path);
            if (U32(rec, 0) != Zip64EocdSig) throw Bad(path, "ZIP64 end-of-central-directory record is corrupt");
            count = S64(rec, 32);
            size = S64(rec, 40);
            offset = S64(rec, 48);
        }
        return (count, offset, size);
    }

    /// <summary>ZIP64 extra field (id 1): 8-byte values replace the 0xFFFFFFFF ones, in the order uncomp, comp, offset.</summary>
    private static void ApplyZip64(ReadOnlySpan<byte> extra, ref long uncomp, ref long comp, ref long local)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra), len = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (len > extra.Length - 4) return;
            var data = extra.Slice(4, len);
            if (id == 1)
            {
                if (uncomp == 0xFFFFFFFF && Take(ref data, out long u)) uncomp = u;
                if (comp == 0xFFFFFFFF && Take(ref data, out long c)) comp = c;
                if (local == 0xFFFFFFFF && Take(ref data, out long o)) local = o;
                return;
            }
            extra = extra[(4 + len)..];
        }
    }

    private static bool Take(ref ReadOnlySpan<byte> data, out long value)
    {
        value = 0;
        if (data.Length < 8) return false;
        value = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(data), long.MaxValue);
        data = data[8..];
        return true;
    }

    /// <summary>Data follows the local header: 30 bytes + its own name and extra lengths (torch pads the extra to align data).</summary>
    private static long DataOffset(SafeFileHandle handle, long fileLength, long local, long comp, string name, string path)
    {
        if (local > fileLength - 30) throw Bad(path, $"entry '{name}' local header is outside the file");
        var header = new byte[30];
        FileRange.ReadExactly(handle, header, local, path);
        if (U32(header, 0) != LocalSig) throw Bad(path, $"entry '{name}' local header is corrupt");
        long data = local + 30 + U16(header, 26) + U16(header, 28);
        if (data > fileLength || comp > fileLength - data)
            throw Bad(path, $"entry '{name}' data ({comp} bytes at {data}) runs past the end of the file");
        return data;
    }

    private static CheckpointException Bad(string path, string message) => new($"{path}: zip: {message}");
    private static int U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    private static long U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    private static long S64(byte[] b, int at) => (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at)), long.MaxValue);
}
