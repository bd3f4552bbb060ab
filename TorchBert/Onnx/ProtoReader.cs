using System.Buffers.Binary;
using System.Text;
using TorchBert.Checkpoints;

namespace TorchBert.Onnx;

/// <summary>Protobuf wire types.</summary>
internal enum WireType { Varint = 0, Fixed64 = 1, Len = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 }

/// <summary>
/// A bounds-checked reader of one protobuf message held in <c>Data</c>, whose first byte is at <c>Base</c> in the file.
/// Every malformed or truncated input raises <see cref="CheckpointException"/> naming the file, the message/field being
/// read (<c>Context</c>) and the file offset; nothing it does allocates more than the bytes it reads.
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public ProtoReader(ReadOnlySpan<byte> data, long @base, string file, string context, string messageType)
    {
        _data = data;
        Base = @base;
        File = file;
        Context = context;
        MessageType = messageType;
    }

    /// <summary>ONNX message type read, e.g. "TensorProto" (names the fields in errors).</summary>
    public string MessageType { get; }
    public long Base { get; }
    public string File { get; }
    public string Context { get; }
    /// <summary>Field number of the last tag read (0 before the first).</summary>
    public int Field { get; private set; }
    public WireType Wire { get; private set; }
    /// <summary>True when every byte has been read.</summary>
    public readonly bool AtEnd => _pos >= _data.Length;

    /// <summary>File offset of the next byte.</summary>
    public readonly long Offset => Base + _pos;

    /// <summary>Reads the next tag; false at the end of the message.</summary>
    public bool Next()
    {
        if (_pos >= _data.Length) return false;
        var tag = Varint();
        var field = tag >> 3;
        var wire = (int)(tag & 7);
        if (field == 0 || field > 536_870_911) throw Error($"invalid field number {field}");
        if (wire > 5) throw Error($"invalid wire type {wire}");
        Field = (int)field;
        Wire = (WireType)wire;
        return true;
    }

    public ulong Varint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length) throw Error("truncated varint");
            var b = _data[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw Error("varint longer than 10 bytes");
    }

    public long Int64() { Expect(WireType.Varint); return (long)Varint(); }

    /// <summary>An int32/enum field, checked to fit 32 bits (negative values are sign-extended to 64 on the wire).</summary>
    public int Int32()
    {
        var v = Int64();
        return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw Error($"value {v} does not fit in 32 bits");
    }

    public float Float()
    {
        Expect(WireType.Fixed32);
        return BinaryPrimitives.ReadSingleLittleEndian(Take(4));
    }

    public double Double()
    {
        Expect(WireType.Fixed64);
        return BinaryPrimitives.ReadDoubleLittleEndian(Take(8));
    }

    /// <summary>A length-delimited field's bytes; <paramref name="offset"/> is their position in the file.</summary>
    public ReadOnlySpan<byte> Bytes(out long offset)
    {
        Expect(WireType.Len);
        var length = Varint();
        if (length > (ulong)(_data.Length - _pos))
            throw Error($"length {length} runs past the end of the enclosing message ({_data.Length - _pos} bytes left)");
        offset = Offset;
        return Take((int)length);
    }

    public string String()
    {
        var bytes = Bytes(out _);
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (ArgumentException e) { throw Error($"invalid UTF-8 string ({e.Message})"); }
    }

    /// <summary>
    /// A reader over an embedded message of type <paramref name="messageType"/>; its context is this one's path plus
    /// the field's name and <paramref name="suffix"/> (e.g. an index): "ModelProto.graph.initializer[3]".
    /// </summary>
    public ProtoReader Message(string messageType, string suffix = "")
    {
        var data = Bytes(out var offset);
        return new ProtoReader(data, offset, File, $"{Context}.{OnnxSchema.FieldName(MessageType, Field)}{suffix}", messageType);
    }

    /// <summary>"Message.field" for the current field, from <see cref="OnnxSchema.FieldName"/>.</summary>
    public readonly string FieldName => $"{MessageType}.{OnnxSchema.FieldName(MessageType, Field)}";

    /// <summary>Appends a repeated int64/int32 field's values, packed or not.</summary>
    public void Int64s(List<long> into)
    {
        if (Wire == WireType.Len)
        {
            var inner = Message("packed");
            while (inner._pos < inner._data.Length) into.Add((long)inner.Varint());
        }
        else into.Add(Int64());
    }

    /// <summary>Appends a repeated float field's values, packed or not.</summary>
    public void Floats(List<float> into)
    {
        if (Wire == WireType.Len)
        {
            var data = Bytes(out _);
            if (data.Length % 4 != 0) throw Error($"packed floats of {data.Length} bytes (not a multiple of 4)");
            for (var i = 0; i < data.Length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(data[i..]));
        }
        else into.Add(Float());
    }

    /// <summary>Skips the current field's value.</summary>
    public void Skip()
    {
        switch (Wire)
        {
            case WireType.Varint: Varint(); break;
            case WireType.Fixed64: Take(8); break;
            case WireType.Fixed32: Take(4); break;
            case WireType.Len: Bytes(out _); break;
            default: throw Error($"unsupported group wire type {Wire}");
        }
    }

    public readonly CheckpointException Error(string problem) =>
        new($"{File}: corrupt or truncated ONNX protobuf in {Context}" +
            (Field > 0 ? $", field {FieldName}" : "") + $", at byte {Offset}: {problem}");

    private readonly void Expect(WireType wire)
    {
        if (Wire != wire) throw Error($"wire type {Wire}, expected {wire}");
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n > _data.Length - _pos) throw Error($"needs {n} bytes, only {_data.Length - _pos} left");
        var span = _data.Slice(_pos, n);
        _pos += n;
        return span;
    }
}
