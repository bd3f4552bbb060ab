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
}
