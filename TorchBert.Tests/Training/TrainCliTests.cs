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
}
