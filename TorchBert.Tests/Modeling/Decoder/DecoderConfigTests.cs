using TorchBert.Configuration;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Modeling.Decoder;

/// <summary>is_decoder, add_cross_attention, use_cache: HF's defaults, read, written back, bad values named.</summary>
public class DecoderConfigTests
{
    [Fact]
    public void Defaults_are_hfs_and_the_fixture_reads_as_a_decoder()
    {
        var defaults = new BertConfig();
        (defaults.IsDecoder, defaults.AddCrossAttention, defaults.UseCache).Should().Be((false, false, true));
        var lm = Fixtures.Config("tiny-bert-lmhead");
        (lm.IsDecoder, lm.AddCrossAttention, lm.UseCache).Should().Be((true, false, true));
        lm.Extra.Keys.Should().NotContain(["is_decoder", "use_cache"]);
    }

    [Fact]
    public void The_flags_round_trip_through_config_json()
    {
        var c = new BertConfig { IsDecoder = true, AddCrossAttention = true, UseCache = false };
        var json = c.ToJson();
        json.Should().Contain("\"is_decoder\": true").And.Contain("\"add_cross_attention\": true").And.Contain("\"use_cache\": false");
        var back = BertConfig.FromJson(json);
        (back.IsDecoder, back.AddCrossAttention, back.UseCache).Should().Be((true, true, false));
        back.Clone().UseCache.Should().BeFalse();
    }

    [Theory]
    [InlineData("is_decoder", "\"yes\"")]
    [InlineData("add_cross_attention", "1")]
    [InlineData("use_cache", "null")]
    public void A_flag_that_is_not_a_boolean_is_named(string key, string value)
    {
        var act = () => BertConfig.FromJson($"{{\"{key}\": {value}}}", "cfg.json");
        act.Should().Throw<BertConfigException>().WithMessage($"cfg.json: key '{key}' has an invalid value {value}");
    }
}

/// <summary>docs/library.md's decoder example, compiled and run on the lmhead fixture, so the page stays true.</summary>
public class DecoderReadmeSampleTests
{
    [Fact]
    public void The_readme_decoder_example_runs()
    {
        using var lm = TorchBert.Modeling.BertLMHeadModel.FromPretrained(Fixtures.Dir("tiny-bert-lmhead"),
            new TorchBert.Modeling.PretrainedOptions { Device = TorchSharp.torch.CPU });
        long length;
        using (TorchSharp.torch.inference_mode())
        using (var scope = TorchSharp.torch.NewDisposeScope())
        {
            var prompt = TorchSharp.torch.tensor(new long[,] { { 101, 1592, 1088 } });
            var first = lm.forward(prompt);
            using var cache = first.TakePastKeyValues()!;
            var next = first.Logits[.., -1, ..].argmax(-1).unsqueeze(1);
            var second = lm.forward(next, pastKeyValues: cache);
            using var longer = second.TakePastKeyValues()!;
            length = longer.Length;
            cache.Length.Should().Be(3);
        }
        length.Should().Be(4);
        using var ids = lm.Generate(TorchSharp.torch.tensor(new long[,] { { 101, 1592, 1088 } }),
            new TorchBert.Modeling.GenerationOptions { MaxNewTokens = 10, DoSample = true, TopK = 50, TopP = 0.9, Seed = 42, EosTokenId = 102 });
        ids.shape[1].Should().BeInRange(4, 13);
    }
}
