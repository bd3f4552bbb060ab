using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>
/// <c>forward(..., skipPadding: true)</c> (<see cref="PackedTokens"/>): HF's numbers on every real token, at every layer,
/// for every attention kind; zeros at padded positions; the ordinary forward when nothing is padded.
/// </summary>
public sealed class SkipPaddingTests
{
    public static TheoryData<string, AttentionImplementation> Cases()
    {
        var data = new TheoryData<string, AttentionImplementation>();
        foreach (var name in new[] { "tiny-bert-mlm", "tiny-bert-gelu-new", "tiny-bert-relative-key" })
            foreach (var attn in new[] { AttentionImplementation.Sdpa, AttentionImplementation.Eager })
                data.Add(name, attn);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Real_tokens_get_hfs_numbers_at_every_layer_and_padding_gets_zeros(string fixture, AttentionImplementation attn)
    {
        using var model = BertForMaskedLM.FromPretrained(Fixtures.Dir(fixture), new PretrainedOptions { Device = CPU, AttnImplementation = attn });
        var expected = Fixtures.Expected(fixture);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var mask = expected["attention_mask"];                                                   // (3, 11) with padding
        mask.eq(0).any().item<bool>().Should().BeTrue("the fixture batch is padded, so packing is exercised");
        var real = mask.unsqueeze(-1).to(ScalarType.Float32);                                    // (3, 11, 1)

        var o = model.forward(expected["input_ids"], mask, expected["token_type_ids"],
            outputHiddenStates: true, outputAttentions: attn == AttentionImplementation.Eager, skipPadding: true);

        TensorAssert.Close(o.HiddenStates![0], expected["embeddings"], 1e-5, "embeddings");
        for (var i = 0; i < 2; i++)
        {
            TensorAssert.Close(o.HiddenStates[i + 1] * real, expected[$"layer.{i}.output"] * real, 1e-5, $"layer {i} output on real tokens");
            TensorAssert.Close(o.HiddenStates[i + 1] * (1 - real), zeros_like(o.HiddenStates[i + 1]), 0, $"layer {i} output at padding");
        }
        TensorAssert.Close(o.LastHiddenState * real, expected["last_hidden_state"] * real, 1e-5, "last_hidden_state on real tokens");
        TensorAssert.Close(o.Logits * real, expected["logits"] * real, 1e-4, "logits on real tokens");
        if (attn == AttentionImplementation.Eager)
            for (var i = 0; i < 2; i++)
            {
                var realQueries = mask.view(3, 1, 11, 1).to(ScalarType.Float32);                // probabilities of real query rows
                TensorAssert.Close(o.Attentions![i] * realQueries, expected[$"layer.{i}.attention.probs"] * realQueries, 1e-5,
                    $"layer {i} attention probabilities of real tokens");
            }
    }

    [Fact]
    public void The_pooler_sees_the_same_cls_token()
    {
        manual_seed(7);
        using var model = new BertModel(Fixtures.Config("tiny-bert-mlm"));                     // the fixture has no pooler weights
        model.eval();
        var expected = Fixtures.Expected("tiny-bert-mlm");
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var (ids, mask, types) = (expected["input_ids"], expected["attention_mask"], expected["token_type_ids"]);
        var full = model.forward(ids, mask, types);
        var packed = model.forward(ids, mask, types, skipPadding: true);
        TensorAssert.Close(packed.PoolerOutput!, full.PoolerOutput!, 1e-6, "pooler output");
    }

    [Fact]
    public void Without_padding_it_is_the_ordinary_forward_bit_for_bit()
    {
        using var model = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU });
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = Fixtures.Expected("tiny-bert-mlm")["input_ids"];
        PackedTokens.FromMask(ones_like(ids)).Should().BeNull("nothing to skip");
        PackedTokens.FromMask(null).Should().BeNull();
        TensorAssert.Close(model.forward(ids, ones_like(ids), skipPadding: true).LastHiddenState,
            model.forward(ids, ones_like(ids)).LastHiddenState, 0, "all-ones mask");
    }

    [Fact]
    public void Rows_without_any_real_token_come_out_as_zeros_and_change_nothing_else()
    {
        using var model = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU });
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = Fixtures.Expected("tiny-bert-mlm")["input_ids"];                              // (3, 11)
        var mask = ones_like(ids);
        mask[1] = tensor(0L);                                                                     // row 1: nothing real
        var packed = model.forward(ids, mask, skipPadding: true).LastHiddenState;
        var full = model.forward(ids, mask).LastHiddenState;
        TensorAssert.Close(packed[1], zeros_like(packed[1]), 0, "the empty row");
        TensorAssert.Close(packed[0], full[0], 1e-5, "row 0");
        TensorAssert.Close(packed[2], full[2], 1e-5, "row 2");

        var none = model.forward(ids, zeros_like(ids), skipPadding: true).LastHiddenState;       // no real token at all
        TensorAssert.Close(none, zeros_like(none), 0, "an all-padding batch");
    }

    [Fact]
    public void Right_padding_attends_sequence_by_sequence_and_other_masks_keep_the_padded_attention()
    {
        using var scope = NewDisposeScope();
        PackedTokens.FromMask(tensor(new long[,] { { 1, 1, 0 }, { 1, 0, 0 }, { 0, 0, 0 } }))!.PrefixLengths.Should().Equal(2, 1, 0);
        PackedTokens.FromMask(tensor(new long[,] { { 0, 1, 1 }, { 1, 1, 1 } }))!.PrefixLengths.Should().BeNull("left padding");
        PackedTokens.FromMask(tensor(new long[,] { { 1, 0, 1 }, { 1, 1, 1 } }))!.PrefixLengths.Should().BeNull("a hole in the mask");

        // The fixture batch is right-padded (per-sequence attention); the same batch left-padded takes the padded path.
        // Both give the ordinary forward's numbers on every real token, SDPA with and without the fast path.
        var e = Fixtures.Expected("tiny-bert-mlm");
        var (ids, mask, types) = (e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        PackedTokens.FromMask(mask)!.PrefixLengths.Should().NotBeNull("the fixture batch is right-padded");
        foreach (var fast in new[] { true, false })
        {
            using var model = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU });
            model.eval();
            model.UseFastPath = fast;
            using var mode = inference_mode();
            foreach (var (name, i, m, t) in new[] { ("right-padded", ids, mask, types), ("left-padded", ids.flip(1), mask.flip(1), types.flip(1)) })
            {
                var real = m.unsqueeze(-1).to(ScalarType.Float32);
                var packed = model.forward(i, m, t, skipPadding: true).LastHiddenState;
                var full = model.forward(i, m, t).LastHiddenState;
                TensorAssert.Close(packed * real, full * real, 1e-5, $"{name}, fast path {(fast ? "on" : "off")}");
            }
        }
    }

    [Fact]
    public void Pack_and_unpack_move_exactly_the_real_rows()
    {
        using var scope = NewDisposeScope();
        var mask = tensor(new long[,] { { 1, 1, 0 }, { 1, 0, 0 } });
        var packed = PackedTokens.FromMask(mask)!;
        packed.Count.Should().Be(3);
        var x = arange(2 * 3 * 2, dtype: ScalarType.Float32).view(2, 3, 2);                    // rows 0..5 = [2r, 2r+1]
        var rows = packed.Pack(x);
        rows.data<float>().ToArray().Should().Equal(0, 1, 2, 3, 6, 7);
        packed.Unpack(rows).data<float>().ToArray().Should().Equal(0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 0);
    }
}
