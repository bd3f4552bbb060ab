using TorchBert.Training;

namespace TorchBert.Tests.Training;

/// <summary>Expected values are hand-computed from seqeval's / sklearn's / the SQuAD script's definitions (and seqeval's README).</summary>
public class MetricsTests
{
    private static SeqEval.Entity E(string type, int start, int end) => new(type, start, end);
    private static IReadOnlyList<IReadOnlyList<string>> S(params string[][] rows) => rows;

    [Fact]
    public void SeqEvalReadmeExample()
    {
        // seqeval README: f1 0.50, accuracy 0.80
        var yTrue = S(["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]);
        var yPred = S(["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]);
        var (p, r, f1, acc) = SeqEval.Score(yTrue, yPred);
        p.Should().Be(0.5);
        r.Should().Be(0.5);
        f1.Should().Be(0.5);
        acc.Should().Be(0.8);
    }

    [Fact]
    public void GetEntitiesFollowsSeqEvalChunking()
    {
        SeqEval.GetEntities(["B-PER", "I-PER", "O", "B-LOC"]).Should().Equal(E("PER", 0, 1), E("LOC", 3, 3));
        SeqEval.GetEntities(["I-PER", "I-PER", "O"]).Should().Equal(E("PER", 0, 1));          // IOB1: I- starts a chunk
        SeqEval.GetEntities(["B-PER", "I-LOC"]).Should().Equal(E("PER", 0, 0), E("LOC", 1, 1));           // type change
        SeqEval.GetEntities(["B-PER", "B-PER"]).Should().Equal(E("PER", 0, 0), E("PER", 1, 1));
        SeqEval.GetEntities(["S-PER", "B-LOC", "E-LOC", "O"]).Should().Equal(E("PER", 0, 0), E("LOC", 1, 2));
        SeqEval.GetEntities(["B", "I", "O"]).Should().Equal(E("_", 0, 1));                     // untyped tags
        SeqEval.GetEntities(["B-ORG-X", "I-ORG-X"]).Should().Equal(E("ORG-X", 0, 1));          // split('-', 1)[-1]
        // sentences are joined with an "O" between them, so a chunk never crosses a sentence boundary
        SeqEval.GetEntities(S(["B-PER"], ["I-PER"])).Should().Equal(E("PER", 0, 0), E("PER", 2, 2));
    }

    [Fact]
    public void SeqEvalNoPredictionsGivesZero()
    {
        SeqEval.Score(S(["B-PER", "O"]), S(["O", "O"])).Should().Be((0.0, 0.0, 0.0, 0.5));
    }

    [Fact]
    public void AccuracyAndMacroF1AsSklearn()
    {
        int[] yTrue = [0, 0, 1, 1, 2], yPred = [0, 1, 1, 1, 0];
        ClassificationMetrics.Accuracy(yTrue, yPred).Should().Be(0.6);
        // per class F1 = 2tp/(2tp+fp+fn): 0.5, 0.8, 0 → mean 0.4333
        ClassificationMetrics.MacroF1(yTrue, yPred).Should().BeApproximately(1.3 / 3, 1e-12);
        // a label only predicted counts too (sklearn uses the union of labels)
        ClassificationMetrics.MacroF1([0, 0], [0, 3]).Should().BeApproximately((2.0 / 3 + 0) / 2, 1e-12);
        FluentActions.Invoking(() => ClassificationMetrics.Accuracy([1], [1, 2])).Should().Throw<ArgumentException>().WithMessage("*1 true labels but 2 predictions*");
    }

    [Fact]
    public void SquadNormalizeExactMatchAndF1()
    {
        SquadMetrics.NormalizeAnswer("The  Quick, brown fox!").Should().Be("quick brown fox");
        SquadMetrics.NormalizeAnswer("an apple a day").Should().Be("apple day");
        SquadMetrics.NormalizeAnswer("theory").Should().Be("theory");   // \b: articles only as whole words
        SquadMetrics.ExactMatch("an Apple.", "apple").Should().BeTrue();
        SquadMetrics.F1("the cat sat", "cat sat on the mat").Should().BeApproximately(2 * 1.0 * 0.5 / 1.5, 1e-12);
        SquadMetrics.F1("a", "the").Should().Be(0);                        // both normalise to nothing
        var (em, f1) = SquadMetrics.Score(["Denver Broncos", "Paris"], [["Denver Broncos", "The Broncos"], ["France"]]);
        em.Should().Be(50);
        f1.Should().Be(50);
    }
}

public class ScheduleTests
{
    [Fact]
    public void LinearWithWarmupMatchesTheFixtureRecipe()
    {
        var s = new LrSchedule(SchedulerType.Linear, 1e-3, 1, 4);
        var lrs = new List<double>();
        for (int i = 0; i < 5; i++) { lrs.Add(s.LastLr); s.Step(); }
        lrs.Should().Equal([0, 1e-3, 1e-3 * 2 / 3, 1e-3 / 3, 0], (a, b) => Math.Abs(a - b) < 1e-18);
    }

    [Fact]
    public void CosineAndConstantSchedules()
    {
        // warmup 2, total 10: step 1 → 0.5; step 6 → progress 0.5 → 0.5 (1 + cos(pi/2)) = 0.5; step 10 → 0
        var cos = new LrSchedule(SchedulerType.Cosine, 1.0, 2, 10);
        cos.Factor(1).Should().Be(0.5);
        cos.Factor(6).Should().BeApproximately(0.5, 1e-15);
        cos.Factor(2).Should().Be(1.0);
        cos.Factor(10).Should().BeApproximately(0, 1e-15);
        new LrSchedule(SchedulerType.ConstantWithWarmup, 1.0, 4, 10).Factor(1).Should().Be(0.25);
        new LrSchedule(SchedulerType.ConstantWithWarmup, 1.0, 4, 10).Factor(7).Should().Be(1);
        new LrSchedule(SchedulerType.Constant, 1.0, 4, 10).Factor(0).Should().Be(1);
        new LrSchedule(SchedulerType.Linear, 1.0, 0, 10).Factor(15).Should().Be(0);   // clamped at 0 past the end
    }

    [Fact]
    public void WarmupRatioRoundsUpAndStepsWin()
    {
        new TrainingArguments { OutputDir = "x", WarmupRatio = 0.1 }.GetWarmupSteps(310).Should().Be(31);
        new TrainingArguments { OutputDir = "x", WarmupRatio = 0.1 }.GetWarmupSteps(305).Should().Be(31);
        new TrainingArguments { OutputDir = "x", WarmupRatio = 0.1, WarmupSteps = 5 }.GetWarmupSteps(305).Should().Be(5);
    }

    [Fact]
    public void ArgumentsHaveHfDefaultsAndChecks()
    {
        var a = new TrainingArguments { OutputDir = "out" };
        (a.LearningRate, a.NumTrainEpochs, a.MaxSteps, a.PerDeviceTrainBatchSize, a.GradientAccumulationSteps).Should().Be((5e-5, 3.0, -1, 8, 1));
        (a.AdamBeta1, a.AdamBeta2, a.AdamEpsilon, a.MaxGradNorm, a.WeightDecay, a.Seed, a.LoggingSteps, a.SaveSteps).Should().Be((0.9, 0.999, 1e-8, 1.0, 0.0, 42, 500, 500));
        a.LrSchedulerType.Should().Be(SchedulerType.Linear);
        new TrainingArguments { OutputDir = "o", LoadBestModelAtEnd = true, EvalStrategy = IntervalStrategy.Epoch, SaveStrategy = IntervalStrategy.Epoch }
            .ResolvedMetric.Should().Be("eval_loss");
        new TrainingArguments { OutputDir = "o", MetricForBestModel = "accuracy" }.ResolvedGreaterIsBetter.Should().BeTrue();
        FluentActions.Invoking(() => new TrainingArguments { OutputDir = "o", LoadBestModelAtEnd = true, EvalStrategy = IntervalStrategy.Epoch }.Validate())
            .Should().Throw<ArgumentException>().WithMessage("*save and eval strategy to match*");
        FluentActions.Invoking(() => new TrainingArguments { OutputDir = "o", GradientAccumulationSteps = 0 }.Validate())
            .Should().Throw<ArgumentException>().WithMessage("gradient_accumulation_steps must be > 0, got 0");
        var json = a.ToJson();
        json.Should().Contain("\"learning_rate\": 5E-05").And.Contain("\"lr_scheduler_type\": \"linear\"");
        TrainingArguments.FromJson(json, "x").Should().Be(a);
    }
}
