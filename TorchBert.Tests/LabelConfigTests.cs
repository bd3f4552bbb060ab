using TorchBert.Configuration;

namespace TorchBert.Tests;

/// <summary>HF's label fields in config.json: defaults, string keys, round trip, consistency errors.</summary>
public class LabelConfigTests
{
    [Fact]
    public void Defaults_are_hfs_two_LABEL_i_and_are_not_written()
    {
        var c = BertConfig.FromJson("{}");
        c.NumLabels.Should().Be(2);
        c.Id2Label.Should().Equal(new Dictionary<int, string> { [0] = "LABEL_0", [1] = "LABEL_1" });
        c.Label2Id["LABEL_1"].Should().Be(1);
        c.ProblemType.Should().BeNull();
        c.ClassifierDropout.Should().BeNull();
        c.TieWordEmbeddings.Should().BeTrue();
        c.ToJson().Should().NotContain("id2label").And.NotContain("problem_type");
        BertConfig.FromJson("{\"num_labels\": 4}").Id2Label[3].Should().Be("LABEL_3");
    }

    [Fact]
    public void Labels_and_head_fields_round_trip_with_string_keys()
    {
        var c = BertConfig.FromFile(Path.Combine("Fixtures", "tiny-bert-tokcls", "config.json"));
        c.NumLabels.Should().Be(5);
        c.Id2Label[1].Should().Be("B-PER");
        c.ProblemType = "single_label_classification";
        c.ClassifierDropout = 0.25;
        c.TieWordEmbeddings = false;
        var json = c.ToJson();
        json.Should().Contain("\"1\": \"B-PER\"").And.Contain("\"I-LOC\": 4");
        var back = BertConfig.FromJson(json);
        back.Id2Label.Should().Equal(c.Id2Label);
        back.Label2Id.Should().Equal(c.Label2Id);
        back.ProblemType.Should().Be("single_label_classification");
        back.ClassifierDropout.Should().Be(0.25);
        back.TieWordEmbeddings.Should().BeFalse();
        c.Clone().Id2Label.Should().Equal(c.Id2Label);
    }

    [Fact]
    public void SetLabels_sets_all_three_consistently_and_NumLabels_resets_as_hf()
    {
        var c = new BertConfig().SetLabels(["neg", "pos", "mixed"]);
        c.NumLabels.Should().Be(3);
        c.Label2Id["mixed"].Should().Be(2);
        c.NumLabels = 4;
        c.Id2Label[0].Should().Be("LABEL_0", "HF's num_labels setter resets the names when the count changes");
        var dup = () => c.SetLabels(["a", "b", "a"]);
        dup.Should().Throw<ArgumentException>().WithMessage("*'a' appears twice (at 0 and 2)*");
    }

    [Theory]
    [InlineData("{\"num_labels\": 3, \"id2label\": {\"0\": \"a\", \"1\": \"b\"}}", "num_labels is 3 but id2label has 2 labels (a, b)")]
    [InlineData("{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}, \"label2id\": {\"a\": 1, \"b\": 0}}", "label2id {a: 1, b: 0} does not match id2label {0: a, 1: b}")]
    [InlineData("{\"id2label\": {\"0\": \"a\", \"2\": \"b\"}}", "id2label keys must be 0..1, got 0, 2")]
    [InlineData("{\"id2label\": {\"x\": \"a\"}}", "id2label key 'x' is not a class index")]
    [InlineData("{\"problem_type\": \"ranking\"}", "problem_type 'ranking' is not one of regression, single_label_classification, multi_label_classification")]
    [InlineData("{\"classifier_dropout\": 1.5}", "classifier_dropout must be in [0, 1] or null, got 1.5")]
    [InlineData("{\"num_labels\": 0}", "num_labels must be >= 1, got 0")]
    public void Inconsistent_label_fields_are_errors_naming_both(string json, string expected)
    {
        var act = () => BertConfig.FromJson(json, "x/config.json");
        act.Should().Throw<BertConfigException>().WithMessage($"x/config.json*{expected}*");
    }
}
