using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Cli;

/// <summary><c>forward</c>, <c>inspect</c> and <c>convert</c> on the task-head fixtures, checked against HF's recorded outputs.</summary>
public sealed class CliHeadTests(CliFixture f) : IClassFixture<CliFixture>
{
    private CliResult Ok(params string[] args)
    {
        var r = f.Run(args);
        r.ExitCode.Should().Be(0, r.ToString());
        return r;
    }

    /// <summary>Nested JSON arrays of a tensor's values (int64 or float32), any rank.</summary>
    private static JsonNode Json(Tensor t)
    {
        if (t.dim() == 0) return t.dtype == ScalarType.Int64 ? JsonValue.Create(t.item<long>()) : JsonValue.Create(t.item<float>());
        var a = new JsonArray();
        for (long i = 0; i < t.shape[0]; i++) a.Add(Json(t[i]));
        return a;
    }

    private Dictionary<string, Tensor> Forward(string fixture, params string[] keys)
    {
        var e = Fixtures.Expected(fixture);
        var input = Path.Combine(f.Work, $"{fixture}-in.json");
        var output = Path.Combine(f.Work, $"{fixture}-out.safetensors");
        var json = new JsonObject();
        foreach (var k in keys) json[k] = Json(e[k]);
        File.WriteAllText(input, json.ToJsonString());
        Ok("forward", "--model", Fixtures.Dir(fixture), "--input", input, "--output", output);
        return ReferenceSafeTensors.Read(output);
    }

    [Fact]
    public void Forward_runs_each_head_with_its_labels_and_writes_hfs_names()
    {
        string[] common = ["input_ids", "attention_mask", "token_type_ids"];
        var seq = Forward("tiny-bert-seqcls", [.. common, "labels"]);
        var e = Fixtures.Expected("tiny-bert-seqcls");
        seq.Keys.Should().BeEquivalentTo("loss", "logits");
        TensorAssert.Close(seq["logits"], e["logits"], 1e-4, "seqcls logits");
        TensorAssert.Close(seq["loss"], e["loss"], 1e-5 * e["loss"].item<float>(), "seqcls loss");

        var qa = Forward("tiny-bert-qa", [.. common, "start_positions", "end_positions"]);
        e = Fixtures.Expected("tiny-bert-qa");
        qa.Keys.Should().BeEquivalentTo("loss", "start_logits", "end_logits");
        TensorAssert.Close(qa["end_logits"], e["end_logits"], 1e-4, "qa end_logits");
        TensorAssert.Close(qa["loss"], e["loss"], 1e-5 * e["loss"].item<float>(), "qa loss");

        var mc = Forward("tiny-bert-multiple-choice", [.. common, "labels"]);
        e = Fixtures.Expected("tiny-bert-multiple-choice");
        TensorAssert.Close(mc["logits"], e["logits"], 1e-4, "multiple-choice logits from B×C×T input");

        var pre = Forward("tiny-bert-pretraining", [.. common, "labels", "next_sentence_label"]);
        e = Fixtures.Expected("tiny-bert-pretraining");
        pre.Keys.Should().BeEquivalentTo("loss", "prediction_logits", "seq_relationship_logits");
        TensorAssert.Close(pre["seq_relationship_logits"], e["seq_relationship_logits"], 1e-4, "seq_relationship_logits");
        TensorAssert.Close(pre["loss"], e["loss"], 1e-5 * e["loss"].item<float>(), "pre-training loss");
    }

    [Fact]
    public void Forward_refuses_an_input_the_head_does_not_take()
    {
        var input = Path.Combine(f.Work, "qa-on-seqcls.json");
        File.WriteAllText(input, """{"input_ids":[[101,2000,102]],"start_positions":[1]}""");
        var r = f.Run("forward", "--model", Fixtures.Dir("tiny-bert-seqcls"), "--input", input, "--output", Path.Combine(f.Work, "x.safetensors"));
        r.ExitCode.Should().NotBe(0);
        r.Stderr.Should().Contain("BertForSequenceClassification takes no start_positions (its extra inputs: labels)");
    }

    [Fact]
    public void Inspect_and_convert_work_for_a_head()
    {
        var tree = Ok("inspect", "--model", Fixtures.Dir("tiny-bert-tokcls")).Stdout;
        tree.Should().StartWith("BertForTokenClassification(\n  (bert): BertModel(");
        tree.Should().Contain("  (classifier): Linear(in_features=32, out_features=5, bias=True)");

        var dst = Path.Combine(f.Work, "converted", "seqcls");
        var lines = Ok("convert", Fixtures.Dir("tiny-bert-seqcls"), dst, "--verify").Stdout.Split('\n');
        lines.Should().Contain(l => l.StartsWith("architecture: BertForSequenceClassification"));
        lines.Should().Contain("verify:       max |source - converted| = 0.000E+000, cosine = 1.000000");
        using var converted = BertAutoModel.FromPretrained(dst, new PretrainedOptions { Device = CPU });
        converted.Should().BeOfType<BertForSequenceClassification>();
        converted.Config.Id2Label[2].Should().Be("positive");
    }
}
