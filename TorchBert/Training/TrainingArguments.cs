using System.Text.Json;
using System.Text.Json.Serialization;

namespace TorchBert.Training;

/// <summary>HF <c>IntervalStrategy</c> / <c>SaveStrategy</c>: when to evaluate or save.</summary>
public enum IntervalStrategy { No, Steps, Epoch }

/// <summary>HF <c>SchedulerType</c> (the four schedules <c>get_scheduler</c> builds for BERT fine-tuning).</summary>
public enum SchedulerType { Linear, Cosine, Constant, ConstantWithWarmup }

/// <summary>
/// Port of HF <c>TrainingArguments</c>: the same names (PascalCase here, snake_case in <c>training_args.json</c>) and
/// defaults. <see cref="Validate"/> applies HF's <c>__post_init__</c> rules (eval/save steps default to logging steps,
/// <c>load_best_model_at_end</c> needs matching eval and save strategies, metric defaults to loss).
/// </summary>
public sealed record TrainingArguments
{
    public required string OutputDir { get; init; }
    public double LearningRate { get; init; } = 5e-5;
    public double NumTrainEpochs { get; init; } = 3;
    /// <summary>When &gt; 0, the total number of optimizer steps (overrides <see cref="NumTrainEpochs"/>).</summary>
    public int MaxSteps { get; init; } = -1;
    public int PerDeviceTrainBatchSize { get; init; } = 8;
    public int PerDeviceEvalBatchSize { get; init; } = 8;
    public int GradientAccumulationSteps { get; init; } = 1;
    public double WeightDecay { get; init; }
    public double AdamBeta1 { get; init; } = 0.9;
    public double AdamBeta2 { get; init; } = 0.999;
    public double AdamEpsilon { get; init; } = 1e-8;
    /// <summary>Gradient clipping (total L2 norm); 0 or less: no clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Warmup steps; when &gt; 0 it wins over <see cref="WarmupRatio"/>.</summary>
    public int WarmupSteps { get; init; }
    public double WarmupRatio { get; init; }
    public SchedulerType LrSchedulerType { get; init; } = SchedulerType.Linear;
    public int Seed { get; init; } = 42;
    public IntervalStrategy EvalStrategy { get; init; } = IntervalStrategy.No;
    /// <summary>null = <see cref="LoggingSteps"/> (HF).</summary>
    public int? EvalSteps { get; init; }
    public IntervalStrategy SaveStrategy { get; init; } = IntervalStrategy.Steps;
    public int SaveSteps { get; init; } = 500;
    /// <summary>Keep at most this many checkpoint-N folders (the best one is never deleted); null = all.</summary>
    public int? SaveTotalLimit { get; init; }
    public bool LoadBestModelAtEnd { get; init; }
    /// <summary>Metric name with or without the <c>eval_</c> prefix; null = "loss" when <see cref="LoadBestModelAtEnd"/>.</summary>
    public string? MetricForBestModel { get; init; }
    /// <summary>null = true unless the metric is a loss (HF).</summary>
    public bool? GreaterIsBetter { get; init; }
    public int LoggingSteps { get; init; } = 500;
    /// <summary>Mixed precision via autocast (CUDA only).</summary>
    public bool Bf16 { get; init; }
    public bool Fp16 { get; init; }
    /// <summary>Maximum tokens per sequence for the data readers (HF scripts' <c>max_seq_length</c>).</summary>
    public int MaxSeqLength { get; init; } = 128;

    public int ResolvedEvalSteps => EvalSteps ?? LoggingSteps;

    /// <summary>The metric compared for the best checkpoint, with the <c>eval_</c> prefix.</summary>
    public string? ResolvedMetric
    {
        get
        {
            var m = MetricForBestModel ?? (LoadBestModelAtEnd ? "loss" : null);
            return m is null ? null : m.StartsWith("eval_", StringComparison.Ordinal) ? m : "eval_" + m;
        }
    }

    public bool ResolvedGreaterIsBetter =>
        GreaterIsBetter ?? !(ResolvedMetric is "eval_loss" or null || ResolvedMetric.EndsWith("loss", StringComparison.Ordinal));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad value.</summary>
    public TrainingArguments Validate()
    {
        void Require(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Require(!string.IsNullOrWhiteSpace(OutputDir), "output_dir is required");
        Require(LearningRate >= 0 && double.IsFinite(LearningRate), $"learning_rate must be >= 0, got {LearningRate}");
        Require(MaxSteps > 0 || NumTrainEpochs > 0, $"num_train_epochs must be > 0 (or max_steps > 0), got {NumTrainEpochs}");
        Require(PerDeviceTrainBatchSize > 0, $"per_device_train_batch_size must be > 0, got {PerDeviceTrainBatchSize}");
        Require(PerDeviceEvalBatchSize > 0, $"per_device_eval_batch_size must be > 0, got {PerDeviceEvalBatchSize}");
        Require(GradientAccumulationSteps > 0, $"gradient_accumulation_steps must be > 0, got {GradientAccumulationSteps}");
        Require(WeightDecay >= 0, $"weight_decay must be >= 0, got {WeightDecay}");
        Require(AdamBeta1 is >= 0 and < 1, $"adam_beta1 must be in [0, 1), got {AdamBeta1}");
        Require(AdamBeta2 is >= 0 and < 1, $"adam_beta2 must be in [0, 1), got {AdamBeta2}");
        Require(AdamEpsilon >= 0, $"adam_epsilon must be >= 0, got {AdamEpsilon}");
        Require(WarmupSteps >= 0, $"warmup_steps must be >= 0, got {WarmupSteps}");
        Require(WarmupRatio is >= 0 and <= 1, $"warmup_ratio must be in [0, 1], got {WarmupRatio}");
        Require(LoggingSteps > 0, $"logging_steps must be > 0, got {LoggingSteps}");
        Require(ResolvedEvalSteps > 0, $"eval_steps must be > 0, got {ResolvedEvalSteps}");
        Require(SaveSteps > 0, $"save_steps must be > 0, got {SaveSteps}");
        Require(SaveTotalLimit is null or > 0, $"save_total_limit must be > 0, got {SaveTotalLimit}");
        Require(MaxSeqLength > 1, $"max_seq_length must be > 1, got {MaxSeqLength}");
        Require(!(Bf16 && Fp16), "bf16 and fp16 cannot both be set");
        if (LoadBestModelAtEnd)
        {
            Require(EvalStrategy != IntervalStrategy.No, "load_best_model_at_end needs an eval_strategy (steps or epoch) and eval data");
            Require(EvalStrategy == SaveStrategy,
                $"load_best_model_at_end requires the save and eval strategy to match, got save_strategy {SaveStrategy} and eval_strategy {EvalStrategy}");
            Require(EvalStrategy != IntervalStrategy.Steps || SaveSteps % ResolvedEvalSteps == 0,
                $"load_best_model_at_end requires save_steps ({SaveSteps}) to be a multiple of eval_steps ({ResolvedEvalSteps})");
        }
        return this;
    }

    /// <summary>HF <c>get_warmup_steps</c>: warmup_steps when &gt; 0, else ceil(total × warmup_ratio).</summary>
    public int GetWarmupSteps(int numTrainingSteps) =>
        WarmupSteps > 0 ? WarmupSteps : (int)Math.Ceiling(numTrainingSteps * WarmupRatio);

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingArguments FromJson(string json, string source) =>
        JsonSerializer.Deserialize<TrainingArguments>(json, Json) ?? throw new InvalidDataException($"{source}: not a training_args object");

    /// <summary>Parses <c>linear | cosine | constant | constant_with_warmup</c>.</summary>
    public static SchedulerType ParseScheduler(string name) => name.ToLowerInvariant() switch
    {
        "linear" => SchedulerType.Linear,
        "cosine" => SchedulerType.Cosine,
        "constant" => SchedulerType.Constant,
        "constant_with_warmup" => SchedulerType.ConstantWithWarmup,
        _ => throw new ArgumentException($"lr_scheduler_type '{name}' is not supported (linear, cosine, constant, constant_with_warmup)"),
    };

    /// <summary>Parses <c>no | steps | epoch</c>.</summary>
    public static IntervalStrategy ParseStrategy(string name, string what) => name.ToLowerInvariant() switch
    {
        "no" => IntervalStrategy.No,
        "steps" => IntervalStrategy.Steps,
        "epoch" => IntervalStrategy.Epoch,
        _ => throw new ArgumentException($"{what} '{name}' is not supported (no, steps, epoch)"),
    };
}
