using System.Diagnostics;
using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary>Training stopped because the loss (or the gradient norm) stopped being finite.</summary>
public sealed class TrainingDivergedException(string message) : TorchBertException(message);

/// <summary>What the trainer reports after each optimizer step (for progress bars).</summary>
public sealed record TrainerProgress(int GlobalStep, int MaxSteps, double Epoch, double Loss, double LearningRate,
    double? GradNorm, TimeSpan Elapsed, int StepsThisRun);

/// <summary>The result of <see cref="Trainer.Train"/>: HF's <c>TrainOutput</c> plus the final summary entry.</summary>
public sealed record TrainOutput(int GlobalStep, double TrainingLoss, JsonObject Metrics);

/// <summary>
/// Port of HF <c>Trainer</c>'s training loop (<c>_inner_training_loop</c>) for one device: shuffled batches (a seeded
/// permutation per epoch), dynamic padding, gradient accumulation, clipping of the total gradient norm, AdamW with HF's
/// parameter groups, HF's schedules stepped after every optimizer step, logging / evaluation / checkpointing by steps or
/// epochs, <c>save_total_limit</c> rotation, <c>load_best_model_at_end</c>, exact resume, and the final model and tokenizer
/// saved in <c>output_dir</c> (HF <c>save_model</c>). The trainer owns the optimizer and scheduler state and every tensor
/// that outlives a step; each step runs in its own dispose scope.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    private readonly List<JsonObject> _logHistory = [];
    private HfAdamW? _optimizer;
    private LrSchedule? _schedule;
    private StreamWriter? _log;

    /// <summary>A trainer for <paramref name="task"/> on <paramref name="trainFeatures"/>, evaluating on <paramref name="evalFeatures"/> when given.</summary>
    public Trainer(TrainingArguments args, TrainingTask task, IReadOnlyList<Feature> trainFeatures, IReadOnlyList<Feature>? evalFeatures = null)
    {
        Args = args.Validate();
        TrainingTask = task;
        TrainFeatures = trainFeatures;
        EvalFeatures = evalFeatures;
        if (trainFeatures.Count == 0) throw new ArgumentException("the training set is empty");
        if (args.EvalStrategy != IntervalStrategy.No && (evalFeatures is null || evalFeatures.Count == 0))
            throw new ArgumentException($"eval_strategy {args.EvalStrategy.ToString().ToLowerInvariant()} needs evaluation data");
        if (args.Bf16 || args.Fp16)
            throw new NotSupportedException($"{(args.Bf16 ? "bf16" : "fp16")} mixed precision needs autocast, which TorchSharp 0.107 does not expose; train in float32");
    }

    /// <summary>The training arguments.</summary>
    public TrainingArguments Args { get; }
    /// <summary>The task (model, loss, metrics).</summary>
    public TrainingTask TrainingTask { get; }
    /// <summary>The training rows.</summary>
    public IReadOnlyList<Feature> TrainFeatures { get; }
    /// <summary>The evaluation rows, if any.</summary>
    public IReadOnlyList<Feature>? EvalFeatures { get; }
    /// <summary>The model being trained.</summary>
    public BertPreTrainedModel Model => TrainingTask.Model;

    /// <summary>HF <c>state.global_step</c>.</summary>
    public int GlobalStep { get; private set; }
    /// <summary>HF <c>state.epoch</c> (fractional).</summary>
    public double Epoch { get; private set; }
    /// <summary>Best value of <c>metric_for_best_model</c> so far.</summary>
    public double? BestMetric { get; private set; }
    /// <summary>Folder of the checkpoint with <see cref="BestMetric"/>.</summary>
    public string? BestModelCheckpoint { get; private set; }
    /// <summary>HF <c>state.log_history</c>: the entries also written to <c>training_log.jsonl</c>.</summary>
    public IReadOnlyList<JsonObject> LogHistory => _logHistory;
    /// <summary>The optimizer, once training started.</summary>
    public HfAdamW? Optimizer => _optimizer;
    /// <summary>The learning-rate schedule, once training started.</summary>
    public LrSchedule? Schedule => _schedule;

    /// <summary>Called after each optimizer step.</summary>
    public event Action<TrainerProgress>? Progress;
    /// <summary>Called with each log entry (training, evaluation, summary).</summary>
    public event Action<JsonObject>? Logged;
    /// <summary>Called with a one-line message (checkpoint saved, best model loaded).</summary>
    public event Action<string>? Message;

    /// <summary>Test hook: runs after a checkpoint is written to its temporary folder, before it is moved into place.</summary>
    internal Action<string>? BeforeCheckpointCommit { get; set; }

    /// <summary>HF <c>set_seed</c> for what TorchBert uses: torch's global generator (dropout, head initialisation).</summary>
    public static void SetSeed(int seed) => random.manual_seed(seed);

    /// <summary>Batches per epoch (the last one may be short).</summary>
    public int BatchesPerEpoch => (TrainFeatures.Count + Args.PerDeviceTrainBatchSize - 1) / Args.PerDeviceTrainBatchSize;

    /// <summary>HF: optimizer steps per epoch, a partial accumulation at the epoch's end included.</summary>
    public int UpdateStepsPerEpoch => Math.Max(1, (BatchesPerEpoch + Args.GradientAccumulationSteps - 1) / Args.GradientAccumulationSteps);

    /// <summary>Total optimizer steps: max_steps, else ceil(num_train_epochs × steps per epoch).</summary>
    public int TotalSteps => Args.MaxSteps > 0 ? Args.MaxSteps : (int)Math.Ceiling(Args.NumTrainEpochs * UpdateStepsPerEpoch);

    private int NumEpochs => Args.MaxSteps > 0
        ? (Args.MaxSteps + UpdateStepsPerEpoch - 1) / UpdateStepsPerEpoch
        : (int)Math.Ceiling(Args.NumTrainEpochs);

    /// <summary>
    /// HF <c>trainer.train(resume_from_checkpoint)</c>. <paramref name="resumeFromCheckpoint"/>: a checkpoint folder, or
    /// "latest" for the newest <c>checkpoint-N</c> in output_dir. <paramref name="ct"/> stops training between optimizer
    /// steps (never inside a checkpoint save): it throws <see cref="OperationCanceledException"/>, the checkpoints already
    /// written stay complete and no final model is saved.
    /// </summary>
    public TrainOutput Train(string? resumeFromCheckpoint = null, CancellationToken ct = default)
    {
        NativeRuntime.EnsureLoaded();
        Directory.CreateDirectory(Args.OutputDir);
        var totalSteps = TotalSteps;
        _optimizer?.Dispose();
        _optimizer = new HfAdamW(HfAdamW.HfParameterGroups(Model, Args.WeightDecay), Args.LearningRate, Args.AdamBeta1, Args.AdamBeta2, Args.AdamEpsilon);
        _schedule = new LrSchedule(Args.LrSchedulerType, Args.LearningRate, Args.GetWarmupSteps(totalSteps), totalSteps);
        _logHistory.Clear();
        GlobalStep = 0;
        Epoch = 0;
        BestMetric = null;
        BestModelCheckpoint = null;
        SetSeed(Args.Seed);

        if (resumeFromCheckpoint is not null)
        {
            var dir = resumeFromCheckpoint == "latest" ? LatestCheckpoint(Args.OutputDir)
                ?? throw new CheckpointException($"{Args.OutputDir}: no checkpoint-N folder to resume from") : resumeFromCheckpoint;
            try { LoadCheckpoint(dir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or System.Text.Json.JsonException
                                      or InvalidOperationException or FormatException)
            {
                // A missing or damaged checkpoint is an input error like any other: the library's one exception base.
                throw new CheckpointException(e.Message.StartsWith(dir, StringComparison.Ordinal) ? e.Message : $"{dir}: cannot resume: {e.Message}", e);
            }
            Message?.Invoke($"resumed from {dir} at step {GlobalStep}");
        }
        OpenLog();

        int epochsTrained = GlobalStep / UpdateStepsPerEpoch;
        int batchesToSkip = GlobalStep % UpdateStepsPerEpoch * Args.GradientAccumulationSteps;
        var clock = Stopwatch.StartNew();
        int stepsThisRun = 0, samplesThisRun = 0;
        double lossSinceLog = 0, totalLoss = 0;
        int lastLoggedStep = GlobalStep;
        double? lastGradNorm = null;
        bool stop = GlobalStep >= totalSteps;
        Model.train();
        try
        {
            for (int epoch = epochsTrained; epoch < NumEpochs && !stop; epoch++)
            {
                var order = EpochOrder(epoch);
                int batches = BatchesPerEpoch;
                int start = epoch == epochsTrained ? batchesToSkip : 0;
                for (int b = start; b < batches && !stop; b++)
                {
                    if (b % Args.GradientAccumulationSteps == 0) ct.ThrowIfCancellationRequested();
                    int groupStart = b / Args.GradientAccumulationSteps * Args.GradientAccumulationSteps;
                    int groupSize = Math.Min(Args.GradientAccumulationSteps, batches - groupStart);
                    double stepLoss;
                    using (var scope = NewDisposeScope())
                    {
                        var features = order.Skip(b * Args.PerDeviceTrainBatchSize).Take(Args.PerDeviceTrainBatchSize).Select(i => TrainFeatures[(int)i]).ToList();
                        using var generator = new Generator((ulong)BatchSeed(epoch, b));
                        using var batch = TrainingTask.Collate(features, generator);
                        var loss = TrainingTask.ComputeLoss(batch);
                        if (groupSize > 1) loss = loss.Over(groupSize);
                        stepLoss = loss.to(ScalarType.Float64).item<double>();
                        if (!double.IsFinite(stepLoss)) throw Diverged("loss", stepLoss, epoch, b);
                        loss.backward();
                        samplesThisRun += features.Count;
                    }
                    lossSinceLog += stepLoss;
                    totalLoss += stepLoss;
                    if (b + 1 - groupStart < groupSize) continue;

                    // optimizer step
                    lastGradNorm = GradClipping.ClipGradNorm(_optimizer.Groups.SelectMany(g => g.Parameters).Select(p => p.Parameter), Args.MaxGradNorm);
                    if (!double.IsFinite(lastGradNorm.Value)) throw Diverged("gradient norm", lastGradNorm.Value, epoch, b);
                    _optimizer.Lr = _schedule.LastLr;
                    _optimizer.Step();
                    _schedule.Step();
                    _optimizer.ZeroGrad();
                    GlobalStep++;
                    stepsThisRun++;
                    Epoch = epoch + (double)(b + 1) / batches;
                    Progress?.Invoke(new TrainerProgress(GlobalStep, totalSteps, Epoch, stepLoss * groupSize, _schedule.LastLr, lastGradNorm, clock.Elapsed, stepsThisRun));

                    stop = GlobalStep >= totalSteps;
                    bool epochEnd = b + 1 == batches || stop;   // HF: on_epoch_end also runs when max_steps ends an epoch early
                    if (GlobalStep % Args.LoggingSteps == 0)
                    {
                        LogTrain(lossSinceLog / (GlobalStep - lastLoggedStep), lastGradNorm);
                        lossSinceLog = 0;
                        lastLoggedStep = GlobalStep;
                    }
                    bool evaluate = Args.EvalStrategy == IntervalStrategy.Steps && GlobalStep % Args.ResolvedEvalSteps == 0
                                    || Args.EvalStrategy == IntervalStrategy.Epoch && epochEnd;
                    bool save = Args.SaveStrategy == IntervalStrategy.Steps && GlobalStep % Args.SaveSteps == 0
                                || Args.SaveStrategy == IntervalStrategy.Epoch && epochEnd;
                    Dictionary<string, double>? metrics = evaluate ? EvaluateAndLog() : null;
                    if (save) SaveCheckpoint(metrics);
                }
            }
        }
        finally
        {
            Model.train(false);
        }
        if (Args.LoadBestModelAtEnd && BestModelCheckpoint is not null && Directory.Exists(BestModelCheckpoint))
        {
            LoadModelWeights(BestModelCheckpoint);
            Message?.Invoke($"loaded the best model from {BestModelCheckpoint} ({Args.ResolvedMetric} = {BestMetric:G6})");
        }
        var runtime = clock.Elapsed.TotalSeconds;
        var summary = new JsonObject
        {
            ["step"] = GlobalStep,
            ["epoch"] = Math.Round(Epoch, 4),
            ["train_runtime"] = Math.Round(runtime, 4),
            ["train_samples_per_second"] = Math.Round(samplesThisRun / Math.Max(runtime, 1e-9), 3),
            ["train_steps_per_second"] = Math.Round(stepsThisRun / Math.Max(runtime, 1e-9), 3),
            ["train_loss"] = stepsThisRun > 0 ? totalLoss / stepsThisRun : 0.0,
        };
        Append(summary);
        SaveModel(Args.OutputDir);
        WriteState(Args.OutputDir);
        _log?.Dispose();
        _log = null;
        return new TrainOutput(GlobalStep, stepsThisRun > 0 ? totalLoss / stepsThisRun : 0.0, summary);
    }

    /// <summary>HF <c>trainer.evaluate()</c>: metrics with the <c>eval_</c> prefix (eval mode, inference mode, no shuffle).</summary>
    public Dictionary<string, double> Evaluate(IReadOnlyList<Feature>? features = null)
    {
        features ??= EvalFeatures ?? throw new ArgumentException("no evaluation data");
        if (features.Count == 0) throw new ArgumentException("the evaluation set is empty");
        return Evaluation.Run(TrainingTask, features, Args.PerDeviceEvalBatchSize, Args.Seed);
    }

    private Dictionary<string, double> EvaluateAndLog()
    {
        var wasTraining = Model.training;
        var metrics = Evaluate();
        Model.train(wasTraining);
        var entry = new JsonObject { ["step"] = GlobalStep, ["epoch"] = Math.Round(Epoch, 4) };
        foreach (var (k, v) in metrics) entry[k] = v;
        Append(entry);
        if (Args.ResolvedMetric is { } name)
        {
            if (!metrics.TryGetValue(name, out var value))
                throw new ArgumentException($"metric_for_best_model '{name}' is not among the evaluation metrics ({string.Join(", ", metrics.Keys)})");
            bool better = BestMetric is not double best || (Args.ResolvedGreaterIsBetter ? value > best : value < best);
            if (better)
            {
                BestMetric = value;
                BestModelCheckpoint = Path.Combine(Args.OutputDir, $"checkpoint-{GlobalStep}");
            }
        }
        return metrics;
    }

    private void LogTrain(double loss, double? gradNorm)
    {
        var entry = new JsonObject
        {
            ["step"] = GlobalStep,
            ["epoch"] = Math.Round(Epoch, 4),
            ["loss"] = Math.Round(loss, 4),
            ["learning_rate"] = _schedule!.LastLr,
        };
        if (gradNorm is double g) entry["grad_norm"] = g;
        Append(entry);
    }

    private void Append(JsonObject entry)
    {
        _logHistory.Add(entry);
        _log?.WriteLine(entry.ToJsonString());
        _log?.Flush();
        Logged?.Invoke(entry);
    }

    private void OpenLog()
    {
        var path = Path.Combine(Args.OutputDir, "training_log.jsonl");
        _log?.Dispose();
        _log = new StreamWriter(path, append: false);
        foreach (var e in _logHistory) _log.WriteLine(e.ToJsonString());
        _log.Flush();
    }

    private TrainingDivergedException Diverged(string what, double value, int epoch, int batch)
    {
        var last = LatestCheckpoint(Args.OutputDir);
        return new TrainingDivergedException(
            $"the {what} became {value} at step {GlobalStep + 1} (epoch {epoch}, batch {batch}); training stopped, " +
            (last is null ? "no checkpoint was written yet" : $"the last good checkpoint is {last}") +
            " (try a lower --learning-rate or --max-grad-norm)");
    }

    /// <summary>The permutation of the training features for an epoch: randperm from a generator seeded with seed + epoch.</summary>
    private long[] EpochOrder(int epoch)
    {
        using var g = new Generator((ulong)(Args.Seed + epoch));
        using var perm = randperm(TrainFeatures.Count, generator: g);
        return perm.data<long>().ToArray();
    }

    private long BatchSeed(int epoch, int batch) => unchecked((long)((ulong)Args.Seed * 1_000_003UL + (ulong)epoch * 65_537UL + (ulong)batch) & long.MaxValue);

    /// <summary>Disposes the optimizer state.</summary>
    public void Dispose()
    {
        _optimizer?.Dispose();
        _optimizer = null;
        _log?.Dispose();
        _log = null;
    }
}
