using System.Text.Json.Nodes;
using TorchBert.Tests.Cli;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Training;

/// <summary><c>torchbert train</c> / <c>evaluate</c> end to end on tiny-bert-mlm (bert-base-uncased vocab) with a new classifier head.</summary>
public sealed class TrainCliTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchbert-train-cli-").FullName;
    public void Dispose() => Directory.Delete(_root, recursive: true);

    private CliResult Run(params string[] args) => CliRunner.Run(Path.Combine(_root, "weights"), _root, args);

    private string Csv(string name, string content)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void TrainSavesALoadableFolderAndEvaluatePrintsMetrics()
    {
        var rows = string.Concat(Enumerable.Range(0, 12).Select(i => i % 2 == 0 ? $"a fun puzzle game {i},games\n" : $"an email client {i},mail\n"));
        var train = Csv("train.csv", "text,label\n" + rows);
        var output = Path.Combine(_root, "out");
        var r = Run("train", "--task", "text-classification", "--model", Fixtures.Dir("tiny-bert-mlm"), "--train", train, "--eval", train,
            "--output", output, "--max-steps", "4", "--per-device-train-batch-size", "4", "--learning-rate", "1e-3", "--logging-steps", "2",
            "--save-steps", "2", "--save-total-limit", "1", "--quiet");
        r.ExitCode.Should().Be(0, r.ToString());
        r.Stdout.Should().Contain("saved the final model and tokenizer to");
        foreach (var f in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "training_log.jsonl", "trainer_state.json" })
            File.Exists(Path.Combine(output, f)).Should().BeTrue(f);
        Directory.GetDirectories(output).Select(Path.GetFileName).Should().Equal("checkpoint-4");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        config["architectures"]![0]!.GetValue<string>().Should().Be("BertForSequenceClassification");
        config["id2label"]!["0"]!.GetValue<string>().Should().Be("games");
        var log = File.ReadAllLines(Path.Combine(output, "training_log.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        // 3 batches per epoch: loss at 2, eval at the end of epoch 1 (step 3), loss at 4, eval when max_steps ends epoch 2 (as HF), summary
        log.Select(e => e["step"]!.GetValue<int>()).Should().Equal(2, 3, 4, 4, 4);

        var eval = Run("evaluate", "--model", output, "--data", train, "--json");
        eval.ExitCode.Should().Be(0, eval.ToString());
        var metrics = JsonNode.Parse(eval.Stdout)!;
        metrics["eval_accuracy"]!.GetValue<double>().Should().BeInRange(0, 1);
        metrics["eval_loss"]!.GetValue<double>().Should().BeApproximately(log[3]["eval_loss"]!.GetValue<double>(), 1e-5);
    }

    [Fact]
    public void BadDataIsOneLineNamingFileAndLine()
    {
        var train = Csv("t.csv", "text,label\nfoo,games\nbar,mail\n");
        var eval = Csv("e.csv", "text,label\nfoo,games\nbaz,sound\n");
        var r = Run("train", "--task", "text-classification", "--model", Fixtures.Dir("tiny-bert-mlm"), "--train", train, "--eval", eval,
            "--output", Path.Combine(_root, "bad"), "--max-steps", "1");
        r.ExitCode.Should().Be(1, r.ToString());
        r.StderrLines.Should().ContainSingle().Which.Should().Be($"torchbert: error: {eval}:3: unknown label 'sound' (the model's labels: games, mail)");
        var task = Run("train", "--task", "summarization", "--train", train, "--output", Path.Combine(_root, "bad2"));
        task.ExitCode.Should().NotBe(0);
        task.StderrLines.Should().ContainSingle().Which.Should().Contain("task 'summarization' is not supported");
    }

    [Fact]
    public void PreTokenizedDataTrainsAModelFolderWithoutTokenizerFiles()
    {
        // HF's Trainer needs no tokenizer for pre-tokenized data (issue 21, item 6); its checkpoints then hold none.
        var model = Directory.CreateDirectory(Path.Combine(_root, "no-tokenizer")).FullName;
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), f), Path.Combine(model, f));
        var rows = string.Concat(Enumerable.Range(0, 8).Select(i => i % 2 == 0
            ? $"{{\"input_ids\": [101, 2204, {2000 + i}, 102], \"label\": \"games\"}}\n"
            : $"{{\"input_ids\": [101, 10373, {3000 + i}, 1037, 102], \"attention_mask\": [1, 1, 1, 1, 1], \"label\": \"mail\"}}\n"));
        var train = Csv("pre.jsonl", rows);
        var output = Path.Combine(_root, "out-pre");
        var r = Run("train", "--task", "text-classification", "--model", model, "--train", train, "--eval", train,
            "--output", output, "--max-steps", "2", "--per-device-train-batch-size", "4", "--save-steps", "1", "--quiet");
        r.ExitCode.Should().Be(0, r.ToString());
        r.Stdout.Should().Contain("saved the final model (no tokenizer: the model had none and the data was pre-tokenized) to")
            .And.NotContain("tokenizer to");
        foreach (var dir in new[] { output, Path.Combine(output, "checkpoint-2") })
        {
            File.Exists(Path.Combine(dir, "model.safetensors")).Should().BeTrue(dir);
            File.Exists(Path.Combine(dir, "config.json")).Should().BeTrue(dir);
            foreach (var f in new[] { "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
                File.Exists(Path.Combine(dir, f)).Should().BeFalse($"{dir}/{f}: no tokenizer was given, none is saved");
        }

        // a row with text needs the tokenizer the folder lacks: one line naming the row
        var mixed = Csv("mixed.jsonl", rows + "{\"text\": \"hello\", \"label\": \"games\"}\n");
        var bad = Run("train", "--task", "text-classification", "--model", model, "--train", mixed, "--output", Path.Combine(_root, "out-mixed"), "--max-steps", "1");
        bad.ExitCode.Should().Be(1, bad.ToString());
        bad.StderrLines.Should().ContainSingle().Which.Should().StartWith($"torchbert: error: {mixed}:9: this row has text but the model has no tokenizer");
    }

    [Fact]
    public void APreTokenizedModelWithoutTokenizerFilesEvaluatesOnPreTokenizedData()
    {
        // HF's trainer.evaluate() needs no tokenizer for pre-tokenized data (issue 21, gap 1): evaluate the model trained
        // above. Oracle: HF's metric definitions applied to the model's own logits from `forward` (eval_accuracy =
        // mean(argmax == label); eval_loss = per-row cross-entropy averaged over the rows, as Trainer's evaluation_loop
        // averages the batch losses repeated per row), and the final eval in training_log.jsonl on the same weights.
        var model = Directory.CreateDirectory(Path.Combine(_root, "no-tokenizer-eval")).FullName;
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), f), Path.Combine(model, f));
        var ids = Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? new long[] { 101, 2204, 2000 + i, 102 } : new long[] { 101, 10373, 3000 + i, 1037, 102 }).ToList();
        var labels = Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? "games" : "mail").ToList();
        var data = Csv("pre-eval.jsonl", string.Concat(ids.Select((x, i) => $"{{\"input_ids\": [{string.Join(", ", x)}], \"label\": \"{labels[i]}\"}}\n")));
        var output = Path.Combine(_root, "out-pre-eval");
        var r = Run("train", "--task", "text-classification", "--model", model, "--train", data, "--eval", data,
            "--output", output, "--max-steps", "4", "--per-device-train-batch-size", "4", "--learning-rate", "1e-3", "--quiet");
        r.ExitCode.Should().Be(0, r.ToString());
        File.Exists(Path.Combine(output, "vocab.txt")).Should().BeFalse();

        var eval = Run("evaluate", "--model", output, "--data", data, "--json");
        eval.ExitCode.Should().Be(0, eval.ToString());
        var metrics = JsonNode.Parse(eval.Stdout)!.AsObject();
        var lastEval = File.ReadAllLines(Path.Combine(output, "training_log.jsonl")).Select(l => JsonNode.Parse(l)!).Last(e => e["eval_loss"] is not null);
        metrics["eval_loss"]!.GetValue<double>().Should().BeApproximately(lastEval["eval_loss"]!.GetValue<double>(), 1e-5);

        // the logits of the 8 rows (right-padded to 5 tokens, the padding masked)
        var input = Csv("forward-in.json", new JsonObject
        {
            ["input_ids"] = new JsonArray(ids.Select(x => (JsonNode)new JsonArray(x.Concat(Enumerable.Repeat(0L, 5 - x.Length)).Select(v => (JsonNode)v).ToArray())).ToArray()),
            ["attention_mask"] = new JsonArray(ids.Select(x => (JsonNode)new JsonArray(Enumerable.Range(0, 5).Select(t => (JsonNode)(t < x.Length ? 1 : 0)).ToArray())).ToArray()),
        }.ToJsonString());
        var logitsFile = Path.Combine(_root, "forward-out.safetensors");
        var fwd = Run("forward", "--model", output, "--input", input, "--output", logitsFile);
        fwd.ExitCode.Should().Be(0, fwd.ToString());
        float[] logits;
        using (var reader = TorchBert.Checkpoints.SafeTensorsReader.Open(logitsFile))
        using (var t = reader.Tensors.Single(x => x.Name == "logits").Load())
            logits = t.data<float>().ToArray();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        int correct = 0;
        double loss = 0;
        for (int i = 0; i < 8; i++)
        {
            var row = logits.Skip(2 * i).Take(2).Select(v => (double)v).ToArray();
            var label = config["label2id"]![labels[i]]!.GetValue<int>();
            var max = row.Max();
            loss += -(row[label] - max - Math.Log(row.Sum(v => Math.Exp(v - max))));
            if (Array.IndexOf(row, max) == label) correct++;
        }
        metrics["eval_accuracy"]!.GetValue<double>().Should().Be(correct / 8.0);
        metrics["eval_loss"]!.GetValue<double>().Should().BeApproximately(loss / 8, 1e-5);

        // a row with text needs the tokenizer the model lacks: one line naming that row, as in train
        var mixed = Csv("pre-eval-mixed.jsonl", File.ReadAllText(data) + "{\"text\": \"hello\", \"label\": \"games\"}\n");
        var bad = Run("evaluate", "--model", output, "--data", mixed);
        bad.ExitCode.Should().Be(1, bad.ToString());
        bad.StderrLines.Should().ContainSingle().Which.Should().StartWith($"torchbert: error: {mixed}:9: this row has text but the model has no tokenizer");
    }

    [Theory]
    [InlineData("text-classification", "bad.csv", "text,label\n", "caf\u00e9,games\n")]
    [InlineData("text-classification", "bad.jsonl", "{\"text\": \"ok\", \"label\": \"games\"}\n", "{\"text\": \"caf\u00e9\", \"label\": \"mail\"}\n")]
    [InlineData("ner", "bad.conll", "EU B-ORG\n", "caf\u00e9 O\n")]
    [InlineData("question-answering", "bad.json", "{\"data\": [\n", "{\"title\": \"caf\u00e9\", \"paragraphs\": []}]}\n")]
    [InlineData("fill-mask", "bad.txt", "a line\n", "caf\u00e9\n")]
    public void InvalidUtf8InADataFileNamesTheFileAndLineAndWritesNothing(string task, string name, string line1, string line2)
    {
        // Issue 21, gap 6: File.ReadLines/ReadAllText replaced the byte with U+FFFD and trained on it. Line 2 holds
        // "caf" + 0xE9 (Latin-1 'é', not UTF-8): one error line naming file:2 (a data error, exit 1), no output folder.
        var path = Path.Combine(_root, name);
        var latin1 = System.Text.Encoding.Latin1;
        File.WriteAllBytes(path, [.. latin1.GetBytes(line1), .. latin1.GetBytes(line2)]);
        var output = Path.Combine(_root, "out-" + name);
        var expected = $"torchbert: error: {path}:2: not valid UTF-8 text, byte {line2.IndexOf('\u00e9') + 1} (save the file as UTF-8)";
        var r = Run("train", "--task", task, "--model", Fixtures.Dir("tiny-bert-mlm"), "--train", path, "--output", output, "--max-steps", "1", "--quiet");
        r.ExitCode.Should().Be(1, r.ToString());
        r.StderrLines.Should().ContainSingle(r.ToString()).Which.Should().Be(expected);
        Directory.Exists(output).Should().BeFalse("nothing is written");

        if (task != "text-classification") return;
        // evaluate reads the same way (a fine-tuned classifier: the checkpoint's head, not a new one)
        var good = Csv("good-" + name + ".csv", "text,label\nfun,games\nmail,mail\n");
        var model = Path.Combine(_root, "model-" + name);
        Run("train", "--task", task, "--model", Fixtures.Dir("tiny-bert-mlm"), "--train", good, "--output", model, "--max-steps", "1", "--quiet")
            .ExitCode.Should().Be(0);
        var e = Run("evaluate", "--model", model, "--data", path);
        e.ExitCode.Should().Be(1, e.ToString());
        e.StderrLines.Should().ContainSingle(e.ToString()).Which.Should().Be(expected);
        e.Stdout.Should().BeEmpty();
    }
}
