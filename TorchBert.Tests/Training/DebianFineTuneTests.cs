using TorchBert.Loading;
using TorchBert.Training;

namespace TorchBert.Tests.Training;

/// <summary>
/// The README's and docs/fine-tuning.md's fine-tuning recipe in small: the embedded all-MiniLM-L6-v2 with a new BertForSequenceClassification head
/// on a 49-row subset of data/debian-sections; a few steps must lower the loss on that subset.
/// </summary>
public class DebianFineTuneTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "torchbert-debian-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true); }

    [Fact]
    public void AFewStepsOnASubsetLowerTheLoss()
    {
        Directory.CreateDirectory(_root);
        var source = Path.Combine(AppContext.BaseDirectory, "Fixtures", "debian-sections", "train.csv");
        var lines = File.ReadAllLines(source);
        var subset = Path.Combine(_root, "subset.csv");
        File.WriteAllLines(subset, lines.Take(1).Concat(lines.Skip(1).Where((_, i) => i % 20 == 0)));   // 49 rows, every class
        var args = new TrainingArguments
        {
            OutputDir = Path.Combine(_root, "out"), LearningRate = 5e-4, MaxSteps = 4, PerDeviceTrainBatchSize = 16,
            PerDeviceEvalBatchSize = 64, LoggingSteps = 2, SaveStrategy = IntervalStrategy.No, MaxSeqLength = 32,
        };
        using var run = FineTuning.Prepare(new FineTuneOptions
        {
            TaskKind = FineTuningTask.TextClassification, Model = DefaultModel.EnsureInstalled(), TrainFile = subset, EvalFile = subset,
        }, args);
        run.Labels.Should().Equal("games", "graphics", "mail", "math", "net", "science", "sound");
        run.Model.LoadReport!.NewlyInitialized.Should().Contain(["classifier.weight", "classifier.bias"]);
        var before = run.Trainer.Evaluate()["eval_loss"];
        before.Should().BeApproximately(Math.Log(7), 0.3, "a new head starts near uniform");
        run.Trainer.Train();
        var after = run.Trainer.Evaluate()["eval_loss"];
        after.Should().BeLessThan(before - 0.1);
    }
}
