using TorchBert.Analysis;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Plotting;

/// <summary>The trainer's training_log.jsonl (CONTRACTS.md) read into series; bad lines named by line number.</summary>
public sealed class TrainingCurvesTests
{
    public static string Log => Path.Combine(Fixtures.Dir("training-log"), "training_log.jsonl");

    [Fact]
    public void The_example_log_gives_training_loss_evaluation_loss_and_learning_rate_by_step()
    {
        var c = TrainingCurves.Read(Log);
        c.Entries.Should().HaveCount(37, "31 training entries, 5 evaluations, 1 summary");
        var (steps, loss) = c.Series("loss");
        steps.Should().Equal(Enumerable.Range(1, 31).Select(i => i * 10.0));
        loss[0].Should().Be(1.7899);
        loss[^1].Should().Be(0.4798);
        var (evalSteps, evalLoss) = c.Series("eval_loss");
        evalSteps.Should().Equal(62, 124, 186, 248, 310);
        evalLoss.Should().Equal(1.21, 0.93, 0.84, 0.82, 0.83);
        var (lrSteps, lr) = c.Series("learning_rate");
        lrSteps.Should().HaveCount(31);
        lr[2].Should().Be(9.6774e-05);
        c.Entries[^1].Values["train_loss"].Should().Be(0.7);
        c.Entries[6].Epoch.Should().Be(1.0);
        c.Columns().Take(6).Should().Equal("step", "epoch", "loss", "learning_rate", "grad_norm", "eval_loss");
    }

    [Theory]
    [InlineData("{\"step\": 1, \"loss\": 1.0}\nnot json\n", "log.jsonl:2: not a JSON object*")]
    [InlineData("[1, 2]\n", "log.jsonl:1: not a JSON object")]
    [InlineData("{\"loss\": 1.0}\n", "log.jsonl:1: no 'step'*")]
    [InlineData("{\"step\": 1.5, \"loss\": 1.0}\n", "log.jsonl:1: no 'step'*")]
    [InlineData("{\"step\": 1, \"loss\": \"high\"}\n", "log.jsonl:1: 'loss' is string 'high', not a number")]
    [InlineData("\n{\"step\": 3, \"train_runtime\": 2.0}\n", "log.jsonl: no entry has 'loss', 'eval_loss' or 'learning_rate'*")]
    public void Bad_logs_get_errors_naming_the_line(string text, string message) =>
        FluentActions.Invoking(() => TrainingCurves.Parse(text.Split('\n'), "log.jsonl")).Should().Throw<InvalidDataException>().WithMessage(message);

    [Fact]
    public void A_missing_log_is_named() =>
        FluentActions.Invoking(() => TrainingCurves.Read("/nonexistent/training_log.jsonl")).Should().Throw<FileNotFoundException>()
            .WithMessage("/nonexistent/training_log.jsonl: no such training log");
}
