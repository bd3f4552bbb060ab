using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>
/// <see cref="ModuleFactory.Uninitialized"/> is thread-static state: once a load is over, however it ended, models built
/// from a config must get HF's initialisation again (a leaked scope would hand out uninitialised memory).
/// </summary>
public sealed class UninitializedScopeTests
{
    private static readonly BertConfig Wide = new()
    {
        VocabSize = 1000, HiddenSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 4, IntermediateSize = 128, MaxPositionEmbeddings = 128,
    };

    [Fact]
    public void A_model_built_after_a_load_is_initialised()
    {
        using (var loaded = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU })) { }
        ModuleFactory.SkipsInit.Should().BeFalse();
        AssertHfInit(new BertForMaskedLM(Wide));
    }

    [Fact]
    public void A_load_whose_model_constructor_throws_ends_the_scope()
    {
        var act = () => Pretrained.Load<BertModel>(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU },
            (_, _) => throw new InvalidOperationException("constructor failed"));
        act.Should().Throw<InvalidOperationException>();
        ModuleFactory.SkipsInit.Should().BeFalse();
        AssertHfInit(new BertModel(Wide));
    }

    [Fact]
    public void Scopes_nest_and_restore_the_outer_target()
    {
        using (ModuleFactory.Uninitialized(CPU, ScalarType.Float16))
        {
            using (ModuleFactory.Uninitialized(CPU, ScalarType.BFloat16))
            using (var inner = ModuleFactory.Linear(4, 3))
                inner.weight!.dtype.Should().Be(ScalarType.BFloat16);
            using var outer = ModuleFactory.Linear(4, 3);
            outer.weight!.dtype.Should().Be(ScalarType.Float16);
            outer.weight.shape.Should().Equal(3, 4);
        }
        ModuleFactory.SkipsInit.Should().BeFalse();
    }

    /// <summary>Linear/Embedding weights ~ N(0, 0.02), biases 0, LayerNorm weights 1: nothing left as raw memory.</summary>
    private static void AssertHfInit(BertPreTrainedModel model)
    {
        using (model)
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) p.eq(1).all().item<bool>().Should().BeTrue(name);
                else if (name.EndsWith("bias", StringComparison.Ordinal)) p.eq(0).all().item<bool>().Should().BeTrue(name);
                else if (p.numel() >= 1000) p.std().item<float>().Should().BeApproximately(0.02f, 0.002f, $"{name} ~ N(0, initializer_range)");
                else // too few values for a tight std (128 values: ±6 % sampling error); still real, non-zero draws
                    (p.isfinite().all().item<bool>() && p.ne(0).any().item<bool>() && p.abs().max().item<float>() < 0.2f).Should().BeTrue(name);
            }
        }
    }
}
