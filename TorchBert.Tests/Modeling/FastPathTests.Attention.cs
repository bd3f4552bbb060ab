using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>SDPA without a mask when the attention mask keeps every position (HF's _prepare_4d_attention_mask_for_sdpa).</summary>
public sealed partial class FastPathTests
{
    private static BertModel Load(AttentionImplementation attn) => BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"),
        new PretrainedOptions { Device = CPU, AttnImplementation = attn });

    [Fact]
    public void An_all_ones_mask_gives_the_numbers_of_an_explicit_mask_and_of_eager()
    {
        using var sdpa = Load(AttentionImplementation.Sdpa);
        using var eager = Load(AttentionImplementation.Eager);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = Fixtures.Expected("tiny-bert-mlm")["input_ids"];                   // (3, 11)
        var mask = ones_like(ids);

        var noMask = sdpa.forward(ids).LastHiddenState;
        var onesMask = sdpa.forward(ids, mask).LastHiddenState;
        var extended = AttentionMasks.Extended(mask, ScalarType.Float32);             // (3, 1, 1, 11) of zeros
        var explicitMask = sdpa.Encoder.forward(sdpa.Embeddings.forward(ids), AttentionContext.Encoder(extended)).LastHiddenState;
        var eagerOut = eager.forward(ids, mask).LastHiddenState;

        TensorAssert.Close(onesMask, noMask, 0, "all-ones mask = no mask");
        TensorAssert.Close(onesMask, explicitMask, 1e-6, "no-mask SDPA vs SDPA with the explicit zero mask");
        // SDPA and eager sum in different orders: a few float32 ulps apart (≈2e-6 here) with or without the mask.
        TensorAssert.Close(onesMask, eagerOut, 1e-5, "no-mask SDPA vs eager");
        TensorAssert.Close(explicitMask, eagerOut, 1e-5, "masked SDPA vs eager");
    }

    [Fact]
    public void A_mask_with_padding_still_masks()
    {
        using var sdpa = Load(AttentionImplementation.Sdpa);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 101, 2023, 2003, 102, 0, 0 }).unsqueeze(0);   // (1, 6), last two padding
        var mask = tensor(new long[] { 1, 1, 1, 1, 0, 0 }).unsqueeze(0);
        AttentionMasks.AttendsEverywhere(mask).Should().BeFalse();
        var padded = sdpa.forward(ids, mask).LastHiddenState[.., ..4];
        var alone = sdpa.forward(ids[.., ..4]).LastHiddenState;                       // HF: padding changes nothing it masks
        TensorAssert.Close(padded, alone, 1e-5, "padded sequence vs the sequence alone");
    }

    [Fact]
    public void Attends_everywhere_only_for_masks_of_all_ones()
    {
        using var scope = NewDisposeScope();
        AttentionMasks.AttendsEverywhere(ones(2, 5, dtype: ScalarType.Int64)).Should().BeTrue();
        AttentionMasks.AttendsEverywhere(ones(2, 5, dtype: ScalarType.Float32)).Should().BeTrue();
        AttentionMasks.AttendsEverywhere(ones(2, 5, dtype: ScalarType.Bool)).Should().BeTrue();
        var oneZero = ones(2, 5, dtype: ScalarType.Int64);
        oneZero[1, 4] = tensor(0L);
        AttentionMasks.AttendsEverywhere(oneZero).Should().BeFalse();
        AttentionMasks.AttendsEverywhere(full(2, 5, 2L)).Should().BeFalse("only 1 means attend");
    }

    [Fact]
    public void Input_checks_and_the_mask_check_leave_no_tensor_behind()
    {
        var config = Fixtures.Config("tiny-bert-mlm");
        using var ids = tensor(new long[] { 101, 2023, 102 }).unsqueeze(0);
        using var bad = tensor(new long[] { 101, 99999, 102 }).unsqueeze(0);
        using var mask = ones_like(ids);
        using var types = zeros_like(ids);
        var stats = DisposeScopeManager.Statistics;
        var before = stats.ThreadTotalLiveCount;

        InputValidation.Check(config, ids, mask, types, null);
        AttentionMasks.AttendsEverywhere(mask).Should().BeTrue();
        ((Action)(() => InputValidation.Check(config, bad, mask, types, null))).Should().Throw<ArgumentException>().WithMessage("*99999*(0, 1)*");

        stats.ThreadTotalLiveCount.Should().Be(before, "min/max and the error path's temporaries are freed");
    }
}
