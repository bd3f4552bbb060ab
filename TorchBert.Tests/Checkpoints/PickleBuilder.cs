using System.Buffers.Binary;
using System.Text;

namespace TorchBert.Tests.Checkpoints;

/// <summary>Writes pickle opcodes by hand, for building hostile and synthetic pickles in tests.</summary>
internal sealed class PickleBuilder
{
    private readonly List<byte> _bytes = [];

    public PickleBuilder Raw(params byte[] bytes) { _bytes.AddRange(bytes); return this; }
    public PickleBuilder Proto(byte version = 2) => Raw(0x80, version);
    public PickleBuilder Stop() => Raw((byte)'.');
    public PickleBuilder Mark() => Raw((byte)'(');
    public PickleBuilder None() => Raw((byte)'N');
    public PickleBuilder False() => Raw(0x89);
    public PickleBuilder EmptyTuple() => Raw((byte)')');
    public PickleBuilder Tuple() => Raw((byte)'t');
    public PickleBuilder Tuple1() => Raw(0x85);
    public PickleBuilder Tuple2() => Raw(0x86);
    public PickleBuilder EmptyDict() => Raw((byte)'}');
    public PickleBuilder EmptyList() => Raw((byte)']');
    public PickleBuilder SetItem() => Raw((byte)'s');
    public PickleBuilder SetItems() => Raw((byte)'u');
    public PickleBuilder Appends() => Raw((byte)'e');
    public PickleBuilder Reduce() => Raw((byte)'R');
    public PickleBuilder Build() => Raw((byte)'b');
    public PickleBuilder NewObj() => Raw(0x81);
    public PickleBuilder Obj() => Raw((byte)'o');
    public PickleBuilder StackGlobal() => Raw(0x93);
    public PickleBuilder Memoize() => Raw(0x94);
    public PickleBuilder BinPersId() => Raw((byte)'Q');
    public PickleBuilder BinPut(byte i) => Raw((byte)'q', i);
    public PickleBuilder BinGet(byte i) => Raw((byte)'h', i);

    public PickleBuilder Frame(ulong length)
    {
        var b = new byte[9];
        b[0] = 0x95;
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(1), length);
        return Raw(b);
    }

    public PickleBuilder Global(string module, string name) => Raw((byte)'c').Text(module + "\n" + name + "\n");
    public PickleBuilder Inst(string module, string name) => Raw((byte)'i').Text(module + "\n" + name + "\n");

    /// <summary>BINUNICODE (protocol 1+): 4-byte length + UTF-8.</summary>
    public PickleBuilder Str(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        var len = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(len, utf8.Length);
        return Raw((byte)'X').Raw(len).Raw(utf8);
    }

    /// <summary>SHORT_BINUNICODE (protocol 4).</summary>
    public PickleBuilder ShortStr(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        return Raw(0x8c, (byte)utf8.Length).Raw(utf8);
    }

    /// <summary>BININT for values that fit 32 bits, LONG1 otherwise.</summary>
    public PickleBuilder Int(long v)
    {
        if (v is >= int.MinValue and <= int.MaxValue)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            return Raw((byte)'J').Raw(b);
        }
        var big = new System.Numerics.BigInteger(v).ToByteArray();
        return Raw(0x8a, (byte)big.Length).Raw(big);
    }

    public PickleBuilder IntTuple(params long[] values)
    {
        Mark();
        foreach (var v in values) Int(v);
        return Tuple();
    }

    public byte[] ToArray() => _bytes.ToArray();

    private PickleBuilder Text(string s) => Raw(Encoding.ASCII.GetBytes(s));
}
