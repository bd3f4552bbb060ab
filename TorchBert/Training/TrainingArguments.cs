using System.Text.Json;
using System.Text.Json.Serialization;

namespace TorchBert.Training;

/// <summary>HF <c>IntervalStrategy</c> / <c>SaveStrategy</c>: when to evaluate or save.</summary>
/// <summary>When to evaluate or save (HF's <c>IntervalStrategy</c>).</summary>
public enum IntervalStrategy
{
    /// <summary>Never.</summary>
    No,
    /// <summary>Every N steps.</summary>
    Steps,
    /// <summary>At the end of every epoch.</summary>
    Epoch,
}

/// <summary>HF <c>SchedulerType</c> (the four schedules <c>get_scheduler</c> builds for BERT fine-tuning).</summary>
/// <summary>Learning-rate schedules (HF's <c>lr_scheduler_type</c>).</summary>
public enum SchedulerType
{
    /// <summary>Linear warmup, then linear decay to 0.</summary>
    Linear,
    /// <summary>Linear warmup, then half-cosine decay to 0.</summary>
    Cosine,
    /// <summary>Constant rate, no warmup.</summary>
    Constant,
    /// <summary>Linear warmup, then constant.</summary>
    ConstantWithWarmup,
}

/// <summary>
/// Port of HF <c>TrainingArguments</c>: the same names (PascalCase here, snake_case in <c>training_args.json</c>) and
/// defaults. <see cref="Validate"/> applies HF's <c>__post_init__</c> rules (eval/save steps default to logging steps,
/// <c>load_best_model_at_end</c> needs matching eval and save strategies, metric defaults to loss).
/// </summary>
public sealed record TrainingArguments
{
    /// <summary><c>output_dir</c>: where checkpoints and the final model go.</summary>
    public required string OutputDir { get; init; }
    /// <summary><c>learning_rate</c>: the peak learning rate.</summary>
    public double LearningRate { get; init; } = 5e-5;
    /// <summary><c>num_train_epochs</c>: epochs to train (may be fractional).</summary>
    public double NumTrainEpochs { get; init; } = 3;
    /// <summary>When &gt; 0, the total number of optimizer steps (overrides <see cref="NumTrainEpochs"/>).</summary>
    public int MaxSteps { get; init; } = -1;
    /// <summary><c>per_device_train_batch_size</c>.</summary>
    public int PerDeviceTrainBatchSize { get; init; } = 8;
    /// <summary><c>per_device_eval_batch_size</c>.</summary>
    public int PerDeviceEvalBatchSize { get; init; } = 8;
    /// <summary><c>gradient_accumulation_steps</c>: batches per optimizer step.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary><c>weight_decay</c>: AdamW decay (not applied to biases and LayerNorm weights).</summary>
    public double WeightDecay { get; init; }
    /// <summary><c>adam_beta1</c>.</summary>
    public double AdamBeta1 { get; init; } = 0.9;
    /// <summary><c>adam_beta2</c>.</summary>
    public double AdamBeta2 { get; init; } = 0.999;
    /// <summary><c>adam_epsilon</c>.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;
    /// <summary>Gradient clipping (total L2 norm); 0 or less: no clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Warmup steps; when &gt; 0 it wins over <see cref="WarmupRatio"/>.</summary>
    public int WarmupSteps { get; init; }
    /// <summary><c>warmup_ratio</c>: fraction of the steps spent warming up (when warmup steps are not given).</summary>
    public double WarmupRatio { get; init; }
    /// <summary><c>lr_scheduler_type</c>.</summary>
    public SchedulerType LrSchedulerType { get; init; } = SchedulerType.Linear;
    /// <summary><c>seed</c>: seeds initialisation, dropout and shuffling.</summary>
    public int Seed { get; init; } = 42;
    /// <summary><c>eval_strategy</c>: when to evaluate.</summary>
    public IntervalStrategy EvalStrategy { get; init; } = IntervalStrategy.No;
    /// <summary>null = <see cref="LoggingSteps"/> (HF).</summary>
    public int? EvalSteps { get; init; }
    /// <summary><c>save_strategy</c>: when to save checkpoints.</summary>
    public IntervalStrategy SaveStrategy { get; init; } = IntervalStrategy.Steps;
    /// <summary><c>save_steps</c>.</summary>
    public int SaveSteps { get; init; } = 500;
    /// <summary>Keep at most this many checkpoint-N folders (the best one is never deleted); null = all.</summary>
    public int? SaveTotalLimit { get; init; }
    /// <summary><c>load_best_model_at_end</c>.</summary>
    public bool LoadBestModelAtEnd { get; init; }
    /// <summary>Metric name with or without the <c>eval_</c> prefix; null = "loss" when <see cref="LoadBestModelAtEnd"/>.</summary>
    public string? MetricForBestModel { get; init; }
    /// <summary>null = true unless the metric is a loss (HF).</summary>
    public bool? GreaterIsBetter { get; init; }
    /// <summary><c>logging_steps</c>.</summary>
    public int LoggingSteps { get; init; } = 500;
    /// <summary>Mixed precision via autocast (CUDA only).</summary>
    public bool Bf16 { get; init; }
    /// <summary><c>fp16</c>: mixed precision (CUDA only).</summary>
    public bool Fp16 { get; init; }
    /// <summary>Maximum tokens per sequence for the data readers (HF scripts' <c>max_seq_length</c>).</summary>
    public int MaxSeqLength { get; init; } = 128;

    /// <summary>Evaluation interval in steps: <c>eval_steps</c>, else <c>logging_steps</c> (as HF).</summary>
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

    /// <summary><c>greater_is_better</c>, defaulting as HF does (false for a loss metric, true otherwise).</summary>
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

    /// <summary>The arguments as JSON (the checkpoint's <c>training_args.json</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses <see cref="ToJson"/>'s output; <paramref name="source"/> names it in errors.</summary>
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
