using System.Buffers.Binary;

namespace TorchBert.Tests.Checkpoints;

/// <summary>
/// Applies one random mutation to a file copy of <c>original</c> (patching only the touched bytes, so large fixtures
/// stay cheap) and undoes it. Positions favour structure: the first and last 8 KiB (headers, pickles, zip directory)
/// and zip local headers.
/// </summary>
internal sealed class FileMutator(byte[] original, string path, Random rng)
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe, (byte)'0', (byte)'9', (byte)'{',
        (byte)'}', (byte)'"', (byte)',', (byte)'-', (byte)'.', (byte)'(', (byte)'t', (byte)'R', (byte)'q', (byte)'h', 0x8a, 0x95];
    private static readonly long[] InterestingInts = [0, 1, -1, 7, 8, 63, 64, 255, 256, int.MaxValue, uint.MaxValue, 1L << 31,
        1L << 32, 1L << 62, long.MaxValue, long.MinValue];

    private readonly int[] _localHeaders = FindAll(original, [0x50, 0x4b, 0x03, 0x04]);
    private (long Offset, byte[] Saved)? _patch;
    private bool _rewritten;

    public static byte InterestingByte(Random rng) => rng.Next(3) == 0 ? (byte)rng.Next(256) : Interesting[rng.Next(Interesting.Length)];

    /// <summary>Mutates the file; returns a description that reproduces it.</summary>
    public string Mutate()
    {
        int kind = rng.Next(100);
        if (kind < 8)
        {
            int cut = rng.Next(original.Length);
            using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            RandomAccess.SetLength(h, cut);
            _patch = (cut, original[cut..]);
            return $"truncate at {cut}";
        }
        if (kind < 13)
        {
            int at = Position(), count = rng.Next(1, 16);
            bool insert = rng.Next(2) == 0;
            byte[] mutated = insert
                ? [.. original[..at], .. Enumerable.Range(0, count).Select(_ => InterestingByte(rng)), .. original[at..]]
                : [.. original[..at], .. original[Math.Min(original.Length, at + count)..]];
            File.WriteAllBytes(path, mutated);
            _rewritten = true;
            return $"{(insert ? "insert" : "delete")} {count} bytes at {at}";
        }
        int pos = Position();
        byte[] bytes;
        string what;
        if (kind < 35)
        {
            long v = InterestingInts[rng.Next(InterestingInts.Length)] + (rng.Next(4) == 0 ? rng.Next(-8, 9) : 0);
            bytes = new byte[rng.Next(2) == 0 ? 4 : 8];
            if (bytes.Length == 4) BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)v); else BinaryPrimitives.WriteInt64LittleEndian(bytes, v);
            what = $"int{bytes.Length * 8} {v}";
        }
        else if (kind < 65)
        {
            bytes = [(byte)(original[Math.Min(pos, original.Length - 1)] ^ (1 << rng.Next(8)))];
            what = "bit flip";
        }
        else
        {
            bytes = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => InterestingByte(rng)).ToArray();
            what = "bytes";
        }
        pos = Math.Min(pos, original.Length - bytes.Length);
        Patch(pos, bytes);
        return $"{what} {Convert.ToHexString(bytes)} at {pos}";
    }

    /// <summary>Puts the original bytes back.</summary>
    public void Restore()
    {
        if (_rewritten)
        {
            File.WriteAllBytes(path, original);
            _rewritten = false;
        }
        if (_patch is { } p)
        {
            using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            RandomAccess.Write(h, p.Saved, p.Offset);
            _patch = null;
        }
    }

    private void Patch(long offset, byte[] bytes)
    {
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        _patch = (offset, original.AsSpan((int)offset, bytes.Length).ToArray());
        RandomAccess.Write(h, bytes, offset);
    }

    private int Position()
    {
        int n = original.Length, r = rng.Next(100);
        if (r < 40) return rng.Next(Math.Min(n, 8192));
        if (r < 65) return n - 1 - rng.Next(Math.Min(n, 8192));
        if (r < 80 && _localHeaders.Length > 0) return Math.Min(n - 1, _localHeaders[rng.Next(_localHeaders.Length)] + rng.Next(64));
        return rng.Next(n);
    }

    private static int[] FindAll(byte[] haystack, byte[] needle)
    {
        var result = new List<int>();
        for (int i = haystack.AsSpan().IndexOf(needle); i >= 0;)
        {
            result.Add(i);
            int next = haystack.AsSpan(i + 1).IndexOf(needle);
            i = next < 0 ? -1 : i + 1 + next;
        }
        return result.ToArray();
    }
}
