using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using TorchBert.Training;
using static TorchSharp.torch;

namespace TorchBert.Tests.Training;

/// <summary>
/// Tests whose expectations need torch's global RNG to themselves (seeded runs compared step by step: dropout draws
/// from the global generator, which tests running in parallel would also draw from). They run after the parallel ones, alone.
/// </summary>
[CollectionDefinition(nameof(GlobalRng), DisableParallelization = true)]
public sealed class GlobalRng;

/// <summary>The training loop on tiny-bert-seqcls (dropout 0.1, so the RNG matters) with pre-tokenized features.</summary>
[Collection(nameof(GlobalRng))]
public class TrainerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "torchbert-trainer-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true); }

    private static BertForSequenceClassification Model(string fixture = "tiny-bert-seqcls") =>
        BertForSequenceClassification.FromPretrained(Fixtures.Dir(fixture), new PretrainedOptions { Device = CPU });

    /// <summary>24 rows of random ids (lengths 5..12), labels 0..2, from a fixed seed.</summary>
    private static List<Feature> Data(int n = 24)
    {
        var rng = new Random(5);
        return Enumerable.Range(0, n).Select(i =>
        {
            var len = rng.Next(5, 13);
            var ids = new long[len];
            ids[0] = 1; ids[^1] = 2;
            for (int j = 1; j < len - 1; j++) ids[j] = rng.Next(3, 2000);
            return new Feature { InputIds = ids, Label = (ids[1] % 3), Source = $"row {i}" };
        }).ToList();
    }

    private TrainingArguments Args(string name, int maxSteps = 6) => new()
    {
        OutputDir = Path.Combine(_root, name), LearningRate = 1e-3, MaxSteps = maxSteps, PerDeviceTrainBatchSize = 4,
        LoggingSteps = 1, SaveSteps = 3, WarmupSteps = 2, WeightDecay = 0.01, Seed = 7,
    };

    private static List<double> Losses(IEnumerable<JsonObject> log) => log.Where(e => e.ContainsKey("loss")).Select(e => e["loss"]!.GetValue<double>()).ToList();

    [Fact]
    public void ResumeContinuesTheSameTrajectory()
    {
        using var model = Model();
        using var trainer = new Trainer(Args("full"), new SequenceClassificationTask(model, null), Data());
        trainer.Train();
        var full = Losses(trainer.LogHistory);
        full.Should().HaveCount(6);

        using var fresh = Model();   // a new process would start from the original weights
        var args = Args("resumed");
        using var resumed = new Trainer(args, new SequenceClassificationTask(fresh, null), Data());
        resumed.Train(Path.Combine(_root, "full", "checkpoint-3"));
        var continued = Losses(resumed.LogHistory);
        continued.Should().Equal(full, "the log history of the checkpoint plus steps 4..6 equal the uninterrupted run");
        foreach (var ((name, a), (_, b)) in model.named_parameters().Zip(fresh.named_parameters()))
            (a - b).abs().max().item<float>().Should().BeLessThanOrEqualTo(1e-6f, name);
        File.ReadAllLines(Path.Combine(args.OutputDir, "training_log.jsonl")).Should().HaveCount(7);   // 6 steps + summary
    }

    [Fact]
    public void LogFileAndCheckpointLayout()
    {
        using var model = Model();
        var args = Args("layout") with { EvalStrategy = IntervalStrategy.Steps, EvalSteps = 3 };
        using var trainer = new Trainer(args, new SequenceClassificationTask(model, null), Data(), Data(8));
        trainer.Train();
        var lines = File.ReadAllLines(Path.Combine(args.OutputDir, "training_log.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        lines[0].Select(kv => kv.Key).Should().Equal("step", "epoch", "loss", "learning_rate", "grad_norm");
        lines[0]["learning_rate"]!.GetValue<double>().Should().BeApproximately(1e-3 * 1 / 2, 1e-12);   // after one scheduler step, as HF logs
        lines.Should().Contain(e => e.ContainsKey("eval_loss") && e.ContainsKey("eval_accuracy") && e.ContainsKey("eval_f1"));
        lines[^1].Select(kv => kv.Key).Should().Contain(["train_runtime", "train_samples_per_second", "train_loss"]);
        var ckpt = Path.Combine(args.OutputDir, "checkpoint-3");
        Directory.GetFiles(ckpt).Select(Path.GetFileName).Should().BeEquivalentTo(
            ["model.safetensors", "config.json", "optimizer.safetensors", "scheduler.json", "rng_state.safetensors", "trainer_state.json", "training_args.json"]);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(ckpt, "trainer_state.json")))!;
        state["global_step"]!.GetValue<int>().Should().Be(3);
        state["log_history"]!.AsArray().Should().HaveCount(4);   // 3 steps + the eval at step 3
        // the final model in output_dir itself (HF save_model)
        File.Exists(Path.Combine(args.OutputDir, "model.safetensors")).Should().BeTrue();
        Directory.GetDirectories(args.OutputDir).Select(Path.GetFileName).Should().BeEquivalentTo(["checkpoint-3", "checkpoint-6"]);
    }

    [Fact]
    public void InterruptedSaveLeavesThePreviousCheckpointIntact()
    {
        using var model = Model();
        var args = Args("interrupted");
        using var trainer = new Trainer(args, new SequenceClassificationTask(model, null), Data());
        trainer.BeforeCheckpointCommit = dir => { if (dir.Contains("checkpoint-6")) throw new IOException("disk full (simulated)"); };
        FluentActions.Invoking(() => trainer.Train()).Should().Throw<IOException>().WithMessage("disk full (simulated)");
        Directory.GetDirectories(args.OutputDir).Select(Path.GetFileName).Should().Equal("checkpoint-3");
        Trainer.LatestCheckpoint(args.OutputDir).Should().EndWith("checkpoint-3");
        using var fresh = Model();
        using var resumed = new Trainer(args, new SequenceClassificationTask(fresh, null), Data());
        resumed.Train("latest").GlobalStep.Should().Be(6);
    }

    [Fact]
    public void ResumingFromAMissingOrDamagedCheckpointIsACheckpointExceptionNamingIt()
    {
        using var model = Model();
        var args = Args("damaged", maxSteps: 3);
        using (var trainer = new Trainer(args, new SequenceClassificationTask(model, null), Data())) trainer.Train();
        var checkpoint = Path.Combine(args.OutputDir, "checkpoint-3");
        using var fresh = Model();
        using var resumed = new Trainer(args, new SequenceClassificationTask(fresh, null), Data());

        // One exception base for hosts (issue 21): every way a resume can fail is a CheckpointException : TorchBertException.
        var missing = Path.Combine(_root, "no-such-checkpoint");
        FluentActions.Invoking(() => resumed.Train(missing)).Should().Throw<CheckpointException>().WithMessage($"{missing}*");
        File.WriteAllText(Path.Combine(checkpoint, "scheduler.json"), "{ not json");
        FluentActions.Invoking(() => resumed.Train(checkpoint)).Should().Throw<CheckpointException>()
            .Which.Message.Should().StartWith(checkpoint).And.Contain("scheduler.json").And.NotContain("\n");
        File.Delete(Path.Combine(checkpoint, "optimizer.safetensors"));
        FluentActions.Invoking(() => resumed.Train(checkpoint)).Should().Throw<TorchBertException>().WithMessage("*no optimizer.safetensors*");
        var empty = Path.Combine(_root, "empty-output");
        Directory.CreateDirectory(empty);
        using var other = new Trainer(Args("empty-output"), new SequenceClassificationTask(fresh, null), Data());
        FluentActions.Invoking(() => other.Train("latest")).Should().Throw<CheckpointException>().WithMessage("*no checkpoint-N folder to resume from");
    }

    [Fact]
    public void SaveTotalLimitKeepsTheNewestAndTheBest()
    {
        using var model = Model();
        var args = Args("rotate") with
        {
            SaveSteps = 1, SaveTotalLimit = 2, EvalStrategy = IntervalStrategy.Steps, EvalSteps = 1, LoadBestModelAtEnd = true,
            MetricForBestModel = "loss",
        };
        using var trainer = new Trainer(args, new SequenceClassificationTask(model, null), Data(), Data(8));
        trainer.Train();
        var evals = trainer.LogHistory.Where(e => e.ContainsKey("eval_loss")).ToList();
        var best = evals.MinBy(e => e["eval_loss"]!.GetValue<double>())!["step"]!.GetValue<int>();
        trainer.BestModelCheckpoint.Should().EndWith($"checkpoint-{best}");
        var kept = Directory.GetDirectories(args.OutputDir).Select(Path.GetFileName).ToList();
        kept.Should().Contain($"checkpoint-{best}").And.Contain("checkpoint-6");
        kept.Count.Should().BeLessThanOrEqualTo(2);
        // load_best_model_at_end: the final weights are the best checkpoint's
        using var bestModel = BertForSequenceClassification.FromPretrained(Path.Combine(args.OutputDir, $"checkpoint-{best}"), new PretrainedOptions { Device = CPU });
        (model.Classifier.weight! - bestModel.Classifier.weight!).abs().max().item<float>().Should().Be(0);
    }

    [Fact]
    public void GradientAccumulationEqualsTheLargerBatch()
    {
        // the train-step fixture has dropout 0: two accumulated batches of 2 = one batch of 4
        using var a = Model("tiny-bert-train-step");
        using var b = Model("tiny-bert-train-step");
        var data = Data(8).Select(f => f with { InputIds = f.InputIds[..5] }).ToList();   // equal lengths: equal means
        var args = Args("acc1", 2) with { SaveStrategy = IntervalStrategy.No, PerDeviceTrainBatchSize = 4 };
        using (var t = new Trainer(args, new SequenceClassificationTask(a, null), data)) t.Train();
        using (var t = new Trainer(args with { OutputDir = Path.Combine(_root, "acc2"), PerDeviceTrainBatchSize = 2, GradientAccumulationSteps = 2 },
                   new SequenceClassificationTask(b, null), data)) t.Train();
        // key.bias: its gradient is float noise (softmax ignores a common shift) that Adam scales to ~lr (shared/README.md)
        foreach (var ((name, x), (_, y)) in a.named_parameters().Zip(b.named_parameters()))
            (x - y).abs().max().item<float>().Should().BeLessThanOrEqualTo(name.EndsWith("key.bias") ? 2 * 0.5e-3f : 2e-6f, name);
    }

    private sealed class NaNAfter(BertForSequenceClassification model, int steps) : TrainingTask(model, null)
    {
        private int _calls;
        private readonly SequenceClassificationTask _inner = new(model, null);
        public override Tensor ComputeLoss(TrainingBatch batch) => ++_calls > steps ? _inner.ComputeLoss(batch) * double.NaN : _inner.ComputeLoss(batch);
        public override TaskEvaluator CreateEvaluator(IReadOnlyList<Feature> features) => _inner.CreateEvaluator(features);
    }

    [Fact]
    public void NaNLossStopsWithAClearMessageAndKeepsTheLastGoodCheckpoint()
    {
        using var model = Model();
        var args = Args("nan");
        using var trainer = new Trainer(args, new NaNAfter(model, 4), Data());
        FluentActions.Invoking(() => trainer.Train()).Should().Throw<TrainingDivergedException>()
            .WithMessage($"the loss became NaN at step 5 (epoch 0, batch 4); training stopped, the last good checkpoint is {Path.Combine(args.OutputDir, "checkpoint-3")}*");
        File.Exists(Path.Combine(args.OutputDir, "model.safetensors")).Should().BeFalse("no final model from a diverged run");
        Directory.GetDirectories(args.OutputDir).Select(Path.GetFileName).Should().Equal("checkpoint-3");
    }

    [Fact]
    public void FineTunedFolderReloadsWithHfNamesAndTheSamePredictions()
    {
        using var model = Model();
        var args = Args("reload", 3);
        using var trainer = new Trainer(args, new SequenceClassificationTask(model, null), Data());
        trainer.Train();
        var names = ReferenceSafeTensors.Read(Path.Combine(args.OutputDir, "model.safetensors")).Keys.Order();
        // the tensor names HF writes for BertForSequenceClassification = the HF-made fixture's
        names.Should().Equal(ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir("tiny-bert-seqcls"), "model.safetensors")).Keys.Order());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(args.OutputDir, "config.json")))!;
        config["architectures"]!.AsArray().Single()!.GetValue<string>().Should().Be("BertForSequenceClassification");
        config["id2label"]!["2"]!.GetValue<string>().Should().Be("positive");
        config["label2id"]!["neutral"]!.GetValue<int>().Should().Be(1);
        using var reloaded = BertAutoModel.FromPretrained(args.OutputDir, new PretrainedOptions { Device = CPU });
        reloaded.Should().BeOfType<BertForSequenceClassification>();
        using var scope = NewDisposeScope();
        using var batch = DataCollator.Pad(Data(6), 0, CPU);
        using var mode = inference_mode();
        model.eval();
        var a = model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).Logits;
        var b = ((BertForSequenceClassification)reloaded).forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).Logits;
        a.allclose(b, 0, 0).Should().BeTrue();
    }

    [Fact]
    public void NoTensorOutlivesAStepAndDisposeFreesTheRest()
    {
        var stats = TorchSharp.DisposeScopeManager.Statistics;
        using var model = Model();
        var live = new Dictionary<int, long>();
        var before = stats.ThreadTotalLiveCount;
        var args = Args("leak", 12) with { SaveSteps = 4, EvalStrategy = IntervalStrategy.Steps, EvalSteps = 4 };
        using (var trainer = new Trainer(args, new SequenceClassificationTask(model, null), Data(), Data(8)))
        {
            trainer.Progress += p => live[p.GlobalStep] = stats.ThreadTotalLiveCount;
            trainer.Train();
            live[12].Should().Be(live[2], "steps, logging, evaluation and checkpoints leave no tensor behind");
        }
        stats.ThreadTotalLiveCount.Should().Be(before, "the trainer's optimizer state is freed with it");
    }
}
