using System.Text.Json.Nodes;
using SkiaSharp;
using TorchBert.Tests.Cli;
using static TorchBert.Tests.Plotting.PlotOracle;

namespace TorchBert.Tests.Plotting;

/// <summary><c>torchbert plot ...</c> as a process: --json matrices against independent values, images, one-line errors.</summary>
public sealed class PlotCliTests(CliFixture f) : IClassFixture<CliFixture>
{
    private CliResult Ok(params string[] args)
    {
        var r = f.Run(args);
        r.ExitCode.Should().Be(0, r.ToString());
        r.Stderr.Should().NotContain("torchbert: error", r.ToString());
        return r;
    }

    private static JsonNode Json(CliResult r) => JsonNode.Parse(r.Stdout) ?? throw new InvalidOperationException($"no JSON:\n{r}");

    private static double[][] Values(JsonNode? node) =>
        node!.AsArray().Select(row => row!.AsArray().Select(v => v!.GetValue<double>()).ToArray()).ToArray();

    private static string[] Strings(JsonNode? node) => node!.AsArray().Select(v => v!.GetValue<string>()).ToArray();

    [Fact]
    public void Similarity_json_is_the_cosine_of_the_word_embedding_rows_and_the_png_is_written()
    {
        var png = Path.Combine(f.Work, "similarity.png");
        var r = Ok("plot", "similarity", "join jacob", "--model", Dir, "--json", "--out", png);
        var json = Json(r);
        Strings(json["rows"]).Should().Equal("[CLS]", "join", "jacob", "[SEP]");
        Strings(json["columns"]).Should().Equal("[CLS]", "join", "jacob", "[SEP]");
        json["metric"]!.GetValue<string>().Should().Be("cosine");
        var ids = json["input_ids"]!.AsArray().Select(v => v!.GetValue<long>()).ToArray();
        ids.Should().Equal(101, 3693, 6213, 102);
        Close(AsList(Values(json["values"])), AsList(Cosine(WeightRows("bert.embeddings.word_embeddings.weight", ids))), 1e-6, "cosine");
        r.Stderr.Should().Contain("wrote").And.Contain("similarity.png");
        SKBitmap.DecodeBounds(png).Width.Should().BeGreaterThan(900);
    }

    [Fact]
    public void Attention_json_is_the_recorded_probabilities()
    {
        var json = Json(Ok("plot", "attention", "join jacob", "--model", Dir, "--layer", "1", "--head", "2", "--json"));
        Close(AsList(Values(json["values"])), AsDouble(ExpectedProbs(1, 2, 2, 4)), 1e-5, "layer 1 head 2");
        var heads = Json(Ok("plot", "attention", "join jacob", "--model", Dir, "--layer", "all", "--head", "0", "--json"));
        var panels = heads["panels"]!.AsArray();
        panels.Should().HaveCount(2);
        Close(AsList(Values(panels[0]!["values"])), AsDouble(ExpectedProbs(0, 2, 0, 4)), 1e-5, "layer 0 head 0");
    }

    [Fact]
    public void Positions_and_training_print_what_they_plot()
    {
        var svg = Path.Combine(f.Work, "positions.svg");
        var positions = Ok("plot", "positions", "--model", Dir, "--first", "6", "--out", svg);
        positions.Stdout.Should().StartWith($"wrote {svg} (");
        System.Xml.Linq.XDocument.Load(svg).Root!.Name.LocalName.Should().Be("svg");
        var json = Json(Ok("plot", "positions", "--model", Dir, "--first", "6", "--json"));
        Close(AsList(Values(json["values"])), AsList(Cosine(WeightRows("bert.embeddings.position_embeddings.weight", Enumerable.Range(0, 6).Select(i => (long)i)))), 1e-6, "positions");

        var training = Json(Ok("plot", "training", TrainingCurvesTests.Log, "--json"));
        Strings(training["columns"]).Take(5).Should().Equal("step", "epoch", "loss", "learning_rate", "grad_norm");
        var rows = training["rows"]!.AsArray();
        rows.Should().HaveCount(37);
        rows[0]![0]!.GetValue<double>().Should().Be(10);
        rows[0]![2]!.GetValue<double>().Should().Be(1.7899);
        rows[6]![2].Should().BeNull("an evaluation entry has no training loss");
    }

    [Theory]
    [InlineData("the text is empty", "plot", "similarity", "", "--json")]
    [InlineData("unknown metric 'euclid'", "plot", "similarity", "join", "--metric", "euclid", "--json")]
    [InlineData("--layer 2 is out of range: the model has 2 layers (0..1)", "plot", "attention", "join", "--layer", "2", "--json")]
    [InlineData("--head 4 is out of range: the model has 4 heads per layer (0..3)", "plot", "attention", "join", "--layer", "0", "--head", "4", "--json")]
    [InlineData("--layer all needs --head H", "plot", "attention", "join", "--layer", "all", "--json")]
    [InlineData("cannot write '.jpg' images", "plot", "attention", "join", "--layer", "0", "--out", "a.jpg")]
    [InlineData("give --out FILE.png|FILE.svg (or --json", "plot", "positions")]
    public void Bad_inputs_get_one_line_errors(string message, params string[] args)
    {
        var r = f.Run([.. args, "--model", Dir]);
        r.ExitCode.Should().NotBe(0, r.ToString());
        r.StderrLines.Should().ContainSingle(r.ToString()).Which.Should().StartWith("torchbert: error: ").And.Contain(message);
        r.Stdout.Should().BeEmpty();
    }

    [Fact]
    public void Texts_longer_than_the_position_table_and_bad_logs_are_refused()
    {
        var r = f.Run("plot", "similarity", string.Join(' ', Enumerable.Repeat("join", 70)), "--model", Dir, "--json");
        r.ExitCode.Should().NotBe(0);
        r.StderrLines.Should().ContainSingle().Which.Should().Contain("the text is 72 tokens long; the model takes at most 64 (max_position_embeddings)");
        var log = Path.Combine(f.Work, "bad.jsonl");
        File.WriteAllText(log, "{\"step\": 1, \"loss\": 2.0}\n{\"step\": 2, \"loss\": \"nan?\"}\n");
        var t = f.Run("plot", "training", log, "--json");
        t.ExitCode.Should().NotBe(0);
        t.StderrLines.Should().ContainSingle().Which.Should().Contain("bad.jsonl:2: 'loss' is string 'nan?', not a number");
        Directory.GetFiles(f.Work, "*.tmp").Should().BeEmpty();
    }
}
