using TorchBert.Configuration;

namespace TorchBert.Tests;

public class ConfigTests
{
    [Fact]
    public void Reads_fixture_config_with_hf_defaults_for_missing_keys()
    {
        var c = BertConfig.FromFile(Path.Combine("Fixtures", "tiny-bert-gelu-new", "config.json"));
        c.HiddenAct.Should().Be(HiddenAct.GeluNew);
        c.NumHiddenLayers.Should().Be(3);
        c.LayerNormEps.Should().Be(1e-5);
        c.HeadSize.Should().Be(16);
        BertConfig.FromJson("{}").HiddenSize.Should().Be(768);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 30, \"num_attention_heads\": 4}", "hidden_size (30) is not a multiple of num_attention_heads (4)")]
    [InlineData("{\"hidden_act\": \"tanhh\"}", "hidden_act 'tanhh'")]
    [InlineData("{\"position_embedding_type\": \"rotary\"}", "position_embedding_type 'rotary'")]
    [InlineData("{\"model_type\": \"roberta\"}", "model_type 'roberta'")]
    [InlineData("{\"hidden_size\": \"big\"}", "key 'hidden_size'")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("{oops", "invalid JSON")]
    public void Bad_configs_give_errors_naming_the_problem(string json, string expected)
    {
        var act = () => BertConfig.FromJson(json, "x/config.json");
        act.Should().Throw<BertConfigException>().WithMessage($"*{expected}*").WithMessage("x/config.json*");
    }

    [Fact]
    public void Round_trips_through_json_keeping_unknown_keys()
    {
        var c = BertConfig.FromJson("{\"hidden_act\":\"gelu_new\",\"transformers_version\":\"4.44.0\",\"num_attention_heads\":4,\"hidden_size\":32}");
        var back = BertConfig.FromJson(c.ToJson());
        back.HiddenAct.Should().Be(HiddenAct.GeluNew);
        back.Extra["transformers_version"]!.GetValue<string>().Should().Be("4.44.0");
    }
}
