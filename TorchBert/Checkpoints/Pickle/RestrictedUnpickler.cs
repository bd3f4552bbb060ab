using System.Globalization;
using System.Numerics;
using System.Text;
using static TorchBert.Checkpoints.PickleOpcodes;

namespace TorchBert.Checkpoints;

/// <summary>
/// A restricted unpickler modelled on <c>torch.load(weights_only=True)</c>: it builds plain values (None, bool, long,
/// BigInteger, double, string, byte[], tuple = <c>object?[]</c>, list = <c>List&lt;object?&gt;</c>,
/// <see cref="PickleDict"/>, set = <see cref="HashSet{T}"/>) and resolves only allow-listed globals (see the Globals
/// part). It never calls arbitrary code: GLOBAL/STACK_GLOBAL/INST naming anything else is refused on the spot, and
/// REDUCE/NEWOBJ/OBJ/BUILD only apply to allow-listed callables. Every opcode consumes input, so it always ends.
/// </summary>
internal sealed partial class RestrictedUnpickler
{
    private readonly PickleInput _in;
    private readonly Func<object?, object?>? _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];

    private RestrictedUnpickler(PickleInput input, Func<object?, object?>? persistentLoad)
    {
        _in = input;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Reads one pickle (up to STOP) from <paramref name="input"/> and returns its value.</summary>
    /// <param name="persistentLoad">Resolves PERSID/BINPERSID ids; null refuses them.</param>
    public static object? Load(PickleInput input, Func<object?, object?>? persistentLoad = null) =>
        new RestrictedUnpickler(input, persistentLoad).Run();

    private object? Run()
    {
        while (true)
        {
            byte op = _in.ReadByte();
            if (op == Stop) return Pop();
            Step(op);
        }
    }

    private void Step(byte op)
    {
        switch (op)
        {
            case Proto: if (_in.ReadByte() > 5) throw _in.Fail("unsupported pickle protocol"); break;
            case Frame: if (_in.ReadUInt64() > (ulong)_in.Remaining) throw _in.Fail("frame longer than the input"); break;
            case Mark: _marks.Add(_stack.Count); break;
            case PickleOpcodes.Pop: if (_stack.Count > Base) Pop(); else PopMark(); break;
            case PickleOpcodes.PopMark: PopMark(); break;
            case Dup: Push(Peek()); break;
            case None: Push(null); break;
            case NewTrue: Push(true); break;
            case NewFalse: Push(false); break;
            case Int: Push(ParseIntLine()); break;
            case BinInt: Push((long)_in.ReadInt32()); break;
            case BinInt1: Push((long)_in.ReadByte()); break;
            case BinInt2: Push((long)_in.ReadUInt16()); break;
            case Long: Push(Normalize(ParseBigInteger(Ascii(_in.ReadLine()).TrimEnd('L')))); break;
            case Long1: Push(Normalize(new BigInteger(_in.ReadBytes(_in.ReadByte())))); break;
            case Long4: Push(Normalize(new BigInteger(_in.ReadBytes(NonNegative(_in.ReadInt32()))))); break;
            case PickleOpcodes.Float: Push(ParseDouble(Ascii(_in.ReadLine()))); break;
            case BinFloat: Push(_in.ReadDoubleBigEndian()); break;
            case PickleOpcodes.String: Push(PickleText.ParseQuoted(Ascii(_in.ReadLine()), _in)); break;
            case BinString: Push(Encoding.Latin1.GetString(_in.ReadBytes(NonNegative(_in.ReadInt32())))); break;
            case ShortBinString: Push(Encoding.Latin1.GetString(_in.ReadBytes(_in.ReadByte()))); break;
            case Unicode: Push(PickleText.ParseRawUnicodeEscape(_in.ReadLine(), _in)); break;
            case BinUnicode: Push(Utf8(_in.ReadBytes(_in.ReadUInt32()))); break;
            case ShortBinUnicode: Push(Utf8(_in.ReadBytes(_in.ReadByte()))); break;
            case BinUnicode8: Push(Utf8(_in.ReadBytes(_in.ReadUInt64()))); break;
            case BinBytes: Push(_in.ReadBytes(_in.ReadUInt32())); break;
            case ShortBinBytes: Push(_in.ReadBytes(_in.ReadByte())); break;
            case BinBytes8: case ByteArray8: Push(_in.ReadBytes(_in.ReadUInt64())); break;
            case EmptyTuple: Push(Array.Empty<object?>()); break;
            case PickleOpcodes.Tuple: Push(PopMark().ToArray()); break;
            case Tuple1: Push(PopN(1)); break;
            case Tuple2: Push(PopN(2)); break;
            case Tuple3: Push(PopN(3)); break;
            case EmptyList: Push(new List<object?>()); break;
            case PickleOpcodes.List: Push(PopMark()); break;
            case Append: { var v = Pop(); Target<List<object?>>("APPEND").Add(v); break; }
            case Appends: { var items = PopMark(); Target<List<object?>>("APPENDS").AddRange(items); break; }
            case EmptyDict: Push(new PickleDict()); break;
            case PickleOpcodes.Dict: { var d = new PickleDict(); SetItems(d, PopMark()); Push(d); break; }
            case SetItem: { var v = Pop(); var k = Pop(); Target<PickleDict>("SETITEM").Set(k, v); break; }
            case PickleOpcodes.SetItems: { var items = PopMark(); SetItems(Target<PickleDict>("SETITEMS"), items); break; }
            case EmptySet: Push(new HashSet<object?>()); break;
            case AddItems: { var items = PopMark(); Target<HashSet<object?>>("ADDITEMS").UnionWith(items); break; }
            case FrozenSet: Push(new HashSet<object?>(PopMark())); break;
            case Get: MemoGet(ParseLong(Ascii(_in.ReadLine()))); break;
            case BinGet: MemoGet(_in.ReadByte()); break;
            case LongBinGet: MemoGet(_in.ReadUInt32()); break;
            case Put: _memo[ParseLong(Ascii(_in.ReadLine()))] = Peek(); break;
            case BinPut: _memo[_in.ReadByte()] = Peek(); break;
            case LongBinPut: _memo[_in.ReadUInt32()] = Peek(); break;
            case Memoize: _memo[_memo.Count] = Peek(); break;
            case Global: Push(ResolveGlobal(Ascii(_in.ReadLine()), Ascii(_in.ReadLine()))); break;
            case StackGlobal: { var name = Pop(); var module = Pop(); Push(ResolveGlobal(Str(module), Str(name))); break; }
            case Inst: { var g = ResolveGlobal(Ascii(_in.ReadLine()), Ascii(_in.ReadLine())); Push(Call(g, PopMark().ToArray())); break; }
            case Obj: { var a = PopMark(); if (a.Count == 0) throw _in.Fail("OBJ without a class"); Push(Call(a[0], a.Skip(1).ToArray())); break; }
            case Reduce: { var args = Pop(); var f = Pop(); Push(Call(f, Tuple(args, "REDUCE"))); break; }
            case NewObj: { var args = Pop(); var cls = Pop(); Push(New(cls, Tuple(args, "NEWOBJ"))); break; }
            case NewObjEx: { var kw = Pop(); var args = Pop(); var cls = Pop(); Push(NewEx(cls, Tuple(args, "NEWOBJ_EX"), kw)); break; }
            case PickleOpcodes.Build: { var state = Pop(); Build(Peek(), state); break; }
            case PersId: Push(Persistent(Ascii(_in.ReadLine()))); break;
            case BinPersId: Push(Persistent(Pop())); break;
            case Ext1: case Ext2: case Ext4: throw _in.Fail("refuses EXT opcodes (the copyreg extension registry names globals)");
            case NextBuffer: case ReadOnlyBuffer: throw _in.Fail("refuses out-of-band buffers");
            default: throw _in.Fail($"unknown pickle opcode 0x{op:x2}");
        }
    }

    /// <summary>Stack height at the innermost MARK: items below it are out of reach until POP_MARK.</summary>
    private int Base => _marks.Count == 0 ? 0 : _marks[^1];

    private void Push(object? value) => _stack.Add(value);

    private object? Peek() => _stack.Count > Base ? _stack[^1] : throw _in.Fail("stack underflow");

    private object? Pop()
    {
        var v = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object?[] PopN(int n)
    {
        if (_stack.Count - Base < n) throw _in.Fail("stack underflow");
        var items = _stack.GetRange(_stack.Count - n, n).ToArray();
        _stack.RemoveRange(_stack.Count - n, n);
        return items;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw _in.Fail("MARK expected but not found");
        int at = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(at, _stack.Count - at);
        _stack.RemoveRange(at, _stack.Count - at);
        return items;
    }

    private T Target<T>(string opName) where T : class =>
        Peek() as T ?? throw _in.Fail($"{opName} on a {TorchStorageRef.Describe(Peek())}");

    private void SetItems(PickleDict d, List<object?> items)
    {
        if (items.Count % 2 != 0) throw _in.Fail("odd number of items for a dict");
        for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
    }

    private void MemoGet(long key) =>
        Push(_memo.TryGetValue(key, out var v) ? v : throw _in.Fail($"memo key {key} was never stored"));

    private object? Persistent(object? pid) =>
        _persistentLoad is null ? throw _in.Fail("persistent ids are not allowed here") : _persistentLoad(pid);

    private object?[] Tuple(object? args, string opName) =>
        args as object?[] ?? throw _in.Fail($"{opName} arguments are a {TorchStorageRef.Describe(args)}, not a tuple");

    private string Str(object? v) => v as string ?? throw _in.Fail($"STACK_GLOBAL needs strings, got {TorchStorageRef.Describe(v)}");

    private ulong NonNegative(int n) => n >= 0 ? (ulong)n : throw _in.Fail($"negative length {n}");

    private string Utf8(byte[] bytes) => PickleText.Utf8(bytes, _in);

    private static string Ascii(byte[] line) => Encoding.Latin1.GetString(line);

    private object ParseIntLine()
    {
        string s = Ascii(_in.ReadLine());
        return s switch { "00" => false, "01" => true, _ => Normalize(ParseBigInteger(s)) };
    }

    private long ParseLong(string s) =>
        long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : throw _in.Fail($"bad integer '{s}'");

    private BigInteger ParseBigInteger(string s) =>
        s.Length <= 4096 && BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v : throw _in.Fail("bad integer literal");

    private double ParseDouble(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw _in.Fail($"bad float '{s}'");

    /// <summary>Integers that fit are <c>long</c>; larger ones (the legacy magic number) stay <see cref="BigInteger"/>.</summary>
    private static object Normalize(BigInteger v) => v >= long.MinValue && v <= long.MaxValue ? (object)(long)v : v;
}
