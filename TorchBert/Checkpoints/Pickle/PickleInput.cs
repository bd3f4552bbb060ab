using System.Buffers.Binary;

namespace TorchBert.Checkpoints;

/// <summary>
/// Bounded, buffered reader of pickle bytes from a stream of known length. Every length read from the data is checked
/// against <see cref="Remaining"/> before anything is allocated, so a hostile length can never allocate more than the
/// input holds; running out of bytes is a <see cref="CheckpointException"/> naming <c>source</c>.
/// Several pickles may be read one after another (the legacy torch format); <see cref="Position"/> counts bytes consumed.
/// </summary>
internal sealed class PickleInput(Stream stream, long length, string source)
{
    private const int GrowStep = 1 << 20;
    private readonly byte[] _buffer = new byte[(int)Math.Clamp(length, 1, 1 << 16)];
    private int _bufPos, _bufLen;

    public string Source => source;
    public long Position { get; private set; }
    public long Remaining => length - Position;

    public byte ReadByte()
    {
        if (_bufPos == _bufLen) Fill(1);
        Position++;
        return _buffer[_bufPos++];
    }

    public ushort ReadUInt16() { Span<byte> b = stackalloc byte[2]; ReadExactly(b); return BinaryPrimitives.ReadUInt16LittleEndian(b); }
    public int ReadInt32() { Span<byte> b = stackalloc byte[4]; ReadExactly(b); return BinaryPrimitives.ReadInt32LittleEndian(b); }
    public uint ReadUInt32() { Span<byte> b = stackalloc byte[4]; ReadExactly(b); return BinaryPrimitives.ReadUInt32LittleEndian(b); }
    public ulong ReadUInt64() { Span<byte> b = stackalloc byte[8]; ReadExactly(b); return BinaryPrimitives.ReadUInt64LittleEndian(b); }
    public double ReadDoubleBigEndian() { Span<byte> b = stackalloc byte[8]; ReadExactly(b); return BinaryPrimitives.ReadDoubleBigEndian(b); }

    /// <summary>Reads <paramref name="count"/> bytes; a count beyond the remaining input fails before allocating.</summary>
    public byte[] ReadBytes(ulong count)
    {
        if (count > (ulong)Math.Max(0, Remaining))
            throw Fail($"a length of {count} bytes runs past the end of the pickle ({Remaining} bytes left)");
        // The declared stream length may overstate a compressed stream: grow as bytes actually arrive.
        var result = new byte[Math.Min((long)count, GrowStep)];
        long done = 0;
        while (done < (long)count)
        {
            if (done == result.Length) Array.Resize(ref result, (int)Math.Min((long)count, result.Length * 2L));
            int n = (int)Math.Min(result.Length - done, int.MaxValue);
            ReadExactly(result.AsSpan((int)done, n));
            done += n;
        }
        return result;
    }

    /// <summary>Reads up to (not including) the next '\n', as the text opcodes (GLOBAL, INT, ...) need.</summary>
    public byte[] ReadLine()
    {
        var line = new List<byte>();
        while (true)
        {
            byte b = ReadByte();
            if (b == (byte)'\n') return line.ToArray();
            line.Add(b);
        }
    }

    public void ReadExactly(Span<byte> dest)
    {
        while (!dest.IsEmpty)
        {
            if (_bufPos == _bufLen) Fill(1);
            int n = Math.Min(dest.Length, _bufLen - _bufPos);
            _buffer.AsSpan(_bufPos, n).CopyTo(dest);
            _bufPos += n;
            Position += n;
            dest = dest[n..];
        }
    }

    public CheckpointException Fail(string message) => new($"{source}: {message} (pickle byte {Position})");

    private void Fill(int atLeast)
    {
        if (Remaining < atLeast) throw Fail("the pickle is truncated");
        int want = (int)Math.Min(_buffer.Length, Remaining);
        int got;
        try
        {
            got = stream.ReadAtLeast(_buffer.AsSpan(0, want), atLeast, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new CheckpointException($"{source}: cannot read the pickle: {e.Message}", e);
        }
        if (got < atLeast) throw Fail("the pickle is truncated");
        _bufPos = 0;
        _bufLen = got;
    }
}
