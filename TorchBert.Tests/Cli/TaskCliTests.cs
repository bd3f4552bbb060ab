using System.Text.Json.Nodes;
using TorchBert.Pipelines;
using TorchBert.Tests.Pipelines;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Tests.Cli;

/// <summary>classify / ner / qa / zero-shot as processes: HF's JSON shapes (Python code-point offsets), JSONL in and out, one-line errors.</summary>
public sealed class TaskCliTests(CliFixture f) : IClassFixture<CliFixture>
{
    private static readonly string SeqCls = TaskPipelineFixtures.Folder("tiny-bert-seqcls");
    private static readonly string TokCls = TaskPipelineFixtures.Folder("tiny-bert-tokcls");
    private static readonly string Qa = Fixtures.Dir("tiny-bert-qa");

    private CliResult Ok(params string[] args)
    {
        var r = f.Run(args);
        r.ExitCode.Should().Be(0, r.ToString());
        r.Stderr.Should().NotContain("torchbert: error", r.ToString());
        return r;
    }

    private void Fails(int code, string message, params string[] args)
    {
        var r = f.Run(args);
        r.ExitCode.Should().Be(code, r.ToString());
        r.StderrLines.Should().ContainSingle(r.ToString()).Which.Should().Match("torchbert: error: " + message);
        r.Stdout.Should().BeEmpty();
    }

    private static JsonNode Json(CliResult r) => JsonNode.Parse(r.Stdout)!;

    [Fact]
    public void Classify_prints_hfs_shapes()
    {
        using var pipe = TextClassificationPipeline.FromPretrained(SeqCls, new PipelineOptions { Device = CPU });
        var best = pipe.Run("the end");
        var one = Json(Ok("classify", "--model", SeqCls, "--json", "the end")).AsArray();
        one.Should().ContainSingle("HF: one text without top_k is a list of one dict");
        one[0]!["label"]!.GetValue<string>().Should().Be(best[0].Label);
        one[0]!["score"]!.GetValue<double>().Should().BeApproximately(best[0].Score, 1e-6);

        var all = Json(Ok("classify", "--model", SeqCls, "--json", "--top-k", "all", "--function", "sigmoid", "the end", "of")).AsArray();
        all.Should().HaveCount(2);
        var expected = pipe.Run("of", new TextClassificationParams { TopK = null, Function = ClassificationFunction.Sigmoid });
        all[1]!.AsArray().Select(d => d!["label"]!.GetValue<string>()).Should().Equal(expected.Select(e => e.Label));
        all[1]!.AsArray().Select(d => d!["score"]!.GetValue<double>()).Should().Equal(expected.Select(e => e.Score), (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void Ner_prints_entities_with_python_offsets()
    {
        const string text = "Café 😀 in 東京 newyork";
        using var pipe = TokenClassificationPipeline.FromPretrained(TokCls, new PipelineOptions { Device = CPU });
        var expected = pipe.Run(text, new TokenClassificationParams { IgnoreLabels = [] });
        var got = Json(Ok("ner", "--model", TokCls, "--json", "--ignore-labels", "", text)).AsArray();
        got.Should().HaveCount(expected.Count);
        for (int i = 0; i < got.Count; i++)
        {
            var d = got[i]!.AsObject();
            d.Select(kv => kv.Key).Should().Equal("entity", "score", "index", "word", "start", "end");
            d["word"]!.GetValue<string>().Should().Be(expected[i].Word);
            d["start"]!.GetValue<int>().Should().Be(TextOffsets.ToCodePoints(text, expected[i].Start));
            d["end"]!.GetValue<int>().Should().Be(TextOffsets.ToCodePoints(text, expected[i].End));
        }
        got.Single(d => d!["word"]!.GetValue<string>() == "😀")!["end"]!.GetValue<int>().Should().Be(6, "Python counts the emoji as one");
        got.Single(d => d!["word"]!.GetValue<string>() == "in")!["start"]!.GetValue<int>().Should().Be(7);

        var grouped = Json(Ok("ner", "--model", TokCls, "--json", "--aggregation", "average", "--ignore-labels", "", text, "the end")).AsArray();
        grouped.Should().HaveCount(2, "two texts: a list per text");
        grouped[0]!.AsArray()[0]!.AsObject().Select(kv => kv.Key).Should().Equal("entity_group", "score", "word", "start", "end");
    }

    [Fact]
    public void Qa_prints_a_dict_or_a_list_as_hf()
    {
        const string question = "Who wrote Frankenstein?", context = "Frankenstein was written by Mary Shelley, who lived in London.";
        using var pipe = QuestionAnsweringPipeline.FromPretrained(Qa, new PipelineOptions { Device = CPU });
        var best = pipe.Run(new QuestionContext(question, context))[0];
        var one = Json(Ok("qa", "--model", Qa, "--json", "--question", question, "--context", context)).AsObject();
        one.Select(kv => kv.Key).Should().Equal("score", "start", "end", "answer");
        one["answer"]!.GetValue<string>().Should().Be(best.Answer);
        one["start"]!.GetValue<int>().Should().Be(best.Start);

        var three = Json(Ok("qa", "--model", Qa, "--json", "--top-k", "3", "--max-answer-len", "4", "--handle-impossible", "--question", question, "--question", "Where?", "--context", context)).AsArray();
        three.Should().HaveCount(2, "one result per question");
        var expected = pipe.Run(new QuestionContext("Where?", context), new QuestionAnsweringParams { TopK = 3, MaxAnswerLen = 4, HandleImpossibleAnswer = true });
        three[1]!.AsArray().Select(a => a!["answer"]!.GetValue<string>()).Should().Equal(expected.Select(e => e.Answer));
    }

    [Fact]
    public void Zero_shot_prints_sequence_labels_scores()
    {
        var nli = TaskPipelineFixtures.Nli();
        using var pipe = ZeroShotClassificationPipeline.FromPretrained(nli, new PipelineOptions { Device = CPU });
        var expected = pipe.Run("the end", new ZeroShotParams { CandidateLabels = ["of", "and", "in"], MultiLabel = true, HypothesisTemplate = "It is {}." });
        var got = Json(Ok("zero-shot", "--model", nli, "--json", "--labels", "of, and,in", "--multi-label", "--template", "It is {}.", "the end")).AsObject();
        got.Select(kv => kv.Key).Should().Equal("sequence", "labels", "scores");
        got["sequence"]!.GetValue<string>().Should().Be("the end");
        got["labels"]!.AsArray().Select(l => l!.GetValue<string>()).Should().Equal(expected.Labels);
        got["scores"]!.AsArray().Select(l => l!.GetValue<double>()).Should().Equal(expected.Scores, (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void Jsonl_in_and_out_with_a_progress_bar()
    {
        var input = Path.Combine(f.Work, "texts.jsonl");
        var lines = Enumerable.Range(0, 300).Select(i => i % 2 == 0 ? $"\"the {i}\"" : $"{{\"text\": \"of {i}\", \"text_pair\": \"and\"}}").ToArray();
        File.WriteAllLines(input, lines);
        var output = Path.Combine(f.Work, "labels.jsonl");
        var r = Ok("classify", "--model", SeqCls, "--input", input, "--output", output);
        r.Stdout.Should().BeEmpty();
        r.Stderr.Should().Contain("300/300");
        var results = File.ReadAllLines(output);
        results.Should().HaveCount(300);
        using var pipe = TextClassificationPipeline.FromPretrained(SeqCls, new PipelineOptions { Device = CPU });
        var last = pipe.Run(new TextPair("of 299", "and"))[0];
        var node = JsonNode.Parse(results[299])!.AsArray().Single()!;
        node["label"]!.GetValue<string>().Should().Be(last.Label);
        node["score"]!.GetValue<double>().Should().BeApproximately(last.Score, 1e-6);
        Directory.GetFiles(f.Work, "*.tmp").Should().BeEmpty("the output is written through a temp file, then moved");

        File.WriteAllLines(Path.Combine(f.Work, "bad.jsonl"), ["\"ok\"", "{\"txt\": 1}"]);
        Fails(1, "*bad.jsonl:2: expected a JSON string or an object with \"text\"", "ner", "--model", TokCls, "--input", Path.Combine(f.Work, "bad.jsonl"));
    }

    [Fact]
    public void Bad_input_fails_in_one_line()
    {
        Fails(2, "--aggregation must be none, simple, first, average or max, got 'most'", "ner", "--model", TokCls, "--aggregation", "most", "x");
        Fails(2, "text 2 of 2 is empty", "ner", "--model", TokCls, "x", "");
        Fails(2, "--context is required with --question", "qa", "--model", Qa, "--question", "Who?");
        Fails(2, "the --context is empty", "qa", "--model", Qa, "--question", "Who?", "--context", "");
        Fails(2, "--labels has no candidate label", "zero-shot", "--model", TaskPipelineFixtures.Nli(), "--labels", " , ", "x");
        Fails(1, "*has no sequence-classification head (bert.pooler.*, classifier.* were not in the checkpoint): text-classification would be random",
            "classify", "--model", Fixtures.Dir("tiny-bert-mlm"), "x");
        Fails(1, "*has no label starting with 'entail'*", "zero-shot", "--model", SeqCls, "--labels", "a,b", "x");
        Fails(2, "--top-k must be a number >= 1 or 'all', got '0'", "classify", "--model", SeqCls, "--top-k", "0", "x");
    }
}
