using TorchBert.Bench;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;

namespace TorchBert.Tests.Bench;

/// <summary>The benchmark's own arithmetic and inputs (the benchmark itself is run by hand, never from tests).</summary>
public class BenchHelpersTests
{
    [Fact]
    public void Percentiles_interpolate_between_order_statistics_like_numpy()
    {
        double[] values = [4, 1, 3, 2];
        Stats.Median(values).Should().Be(2.5);
        Stats.Percentile(values, 10).Should().BeApproximately(1.3, 1e-12);
        Stats.Percentile(values, 90).Should().BeApproximately(3.7, 1e-12);
        Stats.Percentile(values, 0).Should().Be(1);
        Stats.Percentile(values, 100).Should().Be(4);
        Stats.Median([7.0]).Should().Be(7);
        FluentActions.Invoking(() => Stats.Median([])).Should().Throw<ArgumentException>().WithMessage("no values*");
    }

    [Fact]
    public void Encoder_flops_count_projections_feed_forward_and_attention()
    {
        // One layer, B = T = H = I = 1: 2·(4 + 2) + 4 = 16.
        Flops.Encoder(1, 1, 1, 1, 1).Should().Be(16);
        // all-MiniLM-L6-v2 at 8 × 128, by hand: 6 · (2·1024·(4·384² + 2·384·1536) + 4·1024·128·384).
        Flops.Encoder(8, 128, 384, 1536, 6).Should().Be(22_951_231_488);
    }

    [Fact]
    public void Options_parse_and_reject_bad_values_by_name()
    {
        var o = BenchOptions.Parse(["--quick", "--threads", "4", "--only", "load,memory", "--json", "out.json"]);
        o.Quick.Should().BeTrue();
        o.Threads.Should().Be(4);
        o.Sections.Should().BeEquivalentTo(["load", "memory"]);
        o.JsonPath.Should().Be("out.json");
        o.FillMaskCalls.Should().Be(1_000);
        BenchOptions.Parse([]).FillMaskCalls.Should().Be(10_000);
        BenchOptions.Parse(["--memory-calls", "250"]).FillMaskCalls.Should().Be(250);

        FluentActions.Invoking(() => BenchOptions.Parse(["--threads", "0"])).Should().Throw<ArgumentException>()
            .WithMessage("--threads must be a positive integer, got '0'");
        FluentActions.Invoking(() => BenchOptions.Parse(["--threads"])).Should().Throw<ArgumentException>().WithMessage("--threads needs a value");
        FluentActions.Invoking(() => BenchOptions.Parse(["--only", "load,speed"])).Should().Throw<ArgumentException>()
            .WithMessage("unknown section(s) speed*");
        FluentActions.Invoking(() => BenchOptions.Parse(["--fast"])).Should().Throw<ArgumentException>().WithMessage("unknown argument '--fast'");
    }

    [Fact]
    public void Batches_are_real_text_with_mixed_lengths_pairs_and_exact_padding()
    {
        var tokenizer = BertTokenizer.FromVocabFile(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "vocab.txt"), doLowerCase: true);
        var b = Batch.Make(tokenizer, 8, 128);
        b.Shape.Should().Equal(8, 128);
        b.Ids.Should().HaveCount(8 * 128);
        var real = Enumerable.Range(0, 8).Select(r => (int)b.Mask.Skip(r * 128).Take(128).Sum()).ToArray();
        real.Should().Equal(128, 112, 96, 80, 128, 112, 96, 80);
        b.RealTokens.Should().Be(real.Sum());
        for (var r = 0; r < 8; r++)
        {
            var ids = b.Ids.Skip(r * 128).Take(128).ToArray();
            ids[0].Should().Be(tokenizer.ClsTokenId);
            ids[real[r] - 1].Should().Be(tokenizer.SepTokenId);
            ids.Skip(real[r]).All(id => id == tokenizer.PadTokenId).Should().BeTrue("padding is [PAD]");
            ids.Take(real[r]).Should().NotContain(tokenizer.UnkTokenId, "the corpus is ordinary English");
            var types = b.Types.Skip(r * 128).Take(128).ToArray();
            types.Contains(1).Should().Be(r % 2 == 0, "even rows are sentence pairs");
            types.Skip(real[r]).All(t => t == 0).Should().BeTrue("padding has token type 0");
        }
        Batch.Make(tokenizer, 1, 16).Mask.Should().OnlyContain(m => m == 1, "a batch of one is unpadded");
    }
}
