using System.Numerics;
using System.Text;
using TorchBert.Checkpoints;

namespace TorchBert.Tests.Checkpoints;

public class RestrictedUnpicklerTests
{
    private static object? Load(byte[] bytes) =>
        RestrictedUnpickler.Load(new PickleInput(new MemoryStream(bytes), bytes.Length, "t.pkl"));

    [Fact]
    public void The_allow_list_is_exactly_what_a_state_dict_needs()
    {
        RestrictedUnpickler.AllowedNames.Should().BeEquivalentTo(
            "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state",
            "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage", "torch.LongStorage",
            "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage");
    }

    [Fact]
    public void Protocol_0_text_opcodes_decode_like_python()
    {
        // (I42  L12345678901234567890L  F1.5  S'a\'b'  Vx\u00e9 p0 g0 I01 t .
        var text = "(I42\nL12345678901234567890L\nF1.5\nS'a\\'b'\nVx\\u00e9\np0\ng0\nI01\nt.";
        var value = Load(Encoding.Latin1.GetBytes(text));
        value.Should().BeOfType<object?[]>().Which.Should().Equal(
            42L, BigInteger.Parse("12345678901234567890"), 1.5, "a'b", "x\u00e9", "x\u00e9", true);
    }

    [Fact]
    public void Binary_ints_normalize_to_long_and_big_ones_stay_big()
    {
        // LONG1 of 2^40 → long; LONG1 of the legacy magic (10 bytes) → BigInteger; BININT1/2 and negative BININT.
        var p = new PickleBuilder().Proto().Mark().Int(1L << 40).Raw(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19)
            .Raw(0x4b, 200).Raw(0x4d, 0x34, 0x12).Int(-7).Tuple().Stop().ToArray();
        var t = (object?[])Load(p)!;
        t[0].Should().Be(1L << 40);
        t[1].Should().Be(BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber));
        t[2..].Should().Equal(200L, 0x1234L, -7L);
    }

    [Fact]
    public void Marks_pop_dup_and_containers_behave_like_python()
    {
        // [1, 1] via DUP+APPENDS; POP of the top; POP_MARK discards a marked group; dict via DICT.
        var p = new PickleBuilder().Proto().Mark()
            .EmptyList().Mark().Int(1).Raw((byte)'2').Appends()
            .Str("gone").Raw((byte)'0')
            .Mark().Int(9).Int(9).Raw((byte)'1')
            .Mark().Str("k").Int(3).Raw((byte)'d')
            .Raw(0x8f).Mark().Int(5).Raw(0x90)
            .Tuple().Stop().ToArray();
        var t = (object?[])Load(p)!;
        t.Should().HaveCount(3);
        t[0].Should().BeOfType<List<object?>>().Which.Should().Equal(1L, 1L);
        ((PickleDict)t[1]!).TryGet("k", out var v).Should().BeTrue();
        v.Should().Be(3L);
        t[2].Should().BeOfType<HashSet<object?>>().Which.Should().BeEquivalentTo(new object[] { 5L });
    }

    [Fact]
    public void Items_below_a_mark_are_out_of_reach()
    {
        // Python raises "unpickling stack underflow" when TUPLE2 would reach below the MARK.
        var p = new PickleBuilder().Proto().Int(1).Mark().Int(2).Tuple2().Stop().ToArray();
        var act = () => Load(p);
        act.Should().Throw<CheckpointException>().WithMessage("*stack underflow*");
    }

    [Fact]
    public void Consecutive_pickles_share_one_input()
    {
        var bytes = new PickleBuilder().Proto().Int(1).Stop().Proto().Str("two").Stop().ToArray();
        var input = new PickleInput(new MemoryStream(bytes), bytes.Length, "two.pkl");
        RestrictedUnpickler.Load(input).Should().Be(1L);
        RestrictedUnpickler.Load(input).Should().Be("two");
        input.Remaining.Should().Be(0);
    }
}
