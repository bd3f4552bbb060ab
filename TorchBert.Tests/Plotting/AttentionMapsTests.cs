using TorchBert.Analysis;
using static TorchBert.Tests.Plotting.PlotOracle;

namespace TorchBert.Tests.Plotting;

/// <summary>Attention maps against the fixture's recorded <c>layer.{i}.attention.probs</c>.</summary>
public sealed class AttentionMapsTests(PlotModelFixture f) : IClassFixture<PlotModelFixture>
{
    [Fact]
    public void Every_head_of_every_layer_equals_the_recorded_probabilities()
    {
        // Row 0: no padding, a second segment from position 6.
        var input = TokenInput.FromIds(ExpectedIds("input_ids", 0), ExpectedIds("token_type_ids", 0));
        var all = AttentionMaps.Compute(f.Model, input);
        all.Should().HaveCount(2);
        for (int layer = 0; layer < 2; layer++)
        {
            all[layer].Should().HaveCount(4);
            for (int head = 0; head < 4; head++)
                Close(AsDouble(all[layer][head]), AsDouble(ExpectedProbs(layer, 0, head, 11)), 1e-5, $"layer {layer} head {head}");
        }
    }

    [Fact]
    public void Select_gives_one_head_the_heads_of_a_layer_or_a_head_over_the_layers()
    {
        var input = TokenInput.FromText(f.Tokenizer, f.Model.Config, "join jacob");
        var one = AttentionMaps.Select(f.Model, input, 1, 3);
        one.Panels.Should().ContainSingle();
        // Row 2 of the fixture is this text padded to 11: masked keys get probability 0, so its 4×4 block is the same.
        Close(AsList(one.Panels[0].Values), AsDouble(ExpectedProbs(1, 2, 3, 4)), 1e-5, "layer 1 head 3");
        one.Panels[0].Kind.Should().Be(ValueKind.Probability);
        one.Panels[0].Rows.Should().Equal("[CLS]", "join", "jacob", "[SEP]");

        var heads = AttentionMaps.Select(f.Model, input, 0, null);
        heads.Panels.Select(p => p.Title).Should().Equal("layer 0 head 0", "layer 0 head 1", "layer 0 head 2", "layer 0 head 3");
        Close(AsList(heads.Panels[2].Values), AsDouble(ExpectedProbs(0, 2, 2, 4)), 1e-5, "layer 0 head 2");

        var layers = AttentionMaps.Select(f.Model, input, null, 1);
        layers.Panels.Select(p => p.Title).Should().Equal("layer 0 head 1", "layer 1 head 1");
        Close(AsList(layers.Panels[1].Values), AsDouble(ExpectedProbs(1, 2, 1, 4)), 1e-5, "layer 1 head 1");
    }

    [Fact]
    public void Out_of_range_layers_and_heads_are_named()
    {
        var input = TokenInput.FromText(f.Tokenizer, f.Model.Config, "join jacob");
        FluentActions.Invoking(() => AttentionMaps.Select(f.Model, input, 2, 0)).Should().Throw<ArgumentException>()
            .WithMessage("layer 2 is out of range: the model has 2 layers (0..1)");
        FluentActions.Invoking(() => AttentionMaps.Select(f.Model, input, -1, null)).Should().Throw<ArgumentException>().WithMessage("layer -1 is out of range*");
        FluentActions.Invoking(() => AttentionMaps.Select(f.Model, input, 0, 4)).Should().Throw<ArgumentException>()
            .WithMessage("head 4 is out of range: the model has 4 heads per layer (0..3)");
        FluentActions.Invoking(() => AttentionMaps.Select(f.Model, input, null, null)).Should().Throw<ArgumentException>().WithMessage("all layers needs one head*");
    }
}
