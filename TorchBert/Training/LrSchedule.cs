namespace TorchBert.Training;

/// <summary>
/// HF's schedules (<c>optimization.py</c>) as the <c>LambdaLR</c> factor they are: lr(s) = base_lr × factor(s), where s
/// counts the scheduler steps taken so far (0 before the first optimizer step, as PyTorch's <c>last_epoch</c>).
/// </summary>
public sealed class LrSchedule
{
    /// <summary>HF's <c>get_scheduler</c>: <paramref name="type"/> over <paramref name="numTrainingSteps"/> with <paramref name="numWarmupSteps"/> of warmup from 0 to <paramref name="baseLr"/>.</summary>
    public LrSchedule(SchedulerType type, double baseLr, int numWarmupSteps, int numTrainingSteps)
    {
        if (numWarmupSteps < 0) throw new ArgumentException($"num_warmup_steps must be >= 0, got {numWarmupSteps}");
        if (numTrainingSteps < 0) throw new ArgumentException($"num_training_steps must be >= 0, got {numTrainingSteps}");
        Type = type;
        BaseLr = baseLr;
        NumWarmupSteps = numWarmupSteps;
        NumTrainingSteps = numTrainingSteps;
    }

    /// <summary>The schedule's shape.</summary>
    public SchedulerType Type { get; }
    /// <summary>The peak learning rate.</summary>
    public double BaseLr { get; }
    /// <summary>Steps of linear warmup from 0.</summary>
    public int NumWarmupSteps { get; }
    /// <summary>Total optimizer steps.</summary>
    public int NumTrainingSteps { get; }

    /// <summary>PyTorch <c>last_epoch</c>: scheduler steps taken.</summary>
    public int LastEpoch { get; set; }

    /// <summary>HF <c>get_last_lr()[0]</c>: the learning rate the next optimizer step uses.</summary>
    public double LastLr => BaseLr * Factor(LastEpoch);

    /// <summary><c>scheduler.step()</c>.</summary>
    public void Step() => LastEpoch++;

    /// <summary>The lambda of HF's <c>get_*_schedule_with_warmup</c> at step <paramref name="s"/>.</summary>
    public double Factor(int s) => Type switch
    {
        SchedulerType.Constant => 1.0,
        // _get_constant_schedule_with_warmup_lr_lambda
        SchedulerType.ConstantWithWarmup => s < NumWarmupSteps ? s / Math.Max(1.0, NumWarmupSteps) : 1.0,
        // _get_linear_schedule_with_warmup_lr_lambda
        SchedulerType.Linear => s < NumWarmupSteps
            ? (double)s / Math.Max(1, NumWarmupSteps)
            : Math.Max(0.0, (double)(NumTrainingSteps - s) / Math.Max(1, NumTrainingSteps - NumWarmupSteps)),
        // _get_cosine_schedule_with_warmup_lr_lambda, num_cycles = 0.5
        SchedulerType.Cosine => s < NumWarmupSteps
            ? (double)s / Math.Max(1, NumWarmupSteps)
            : Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 0.5 * 2.0 *
                ((double)(s - NumWarmupSteps) / Math.Max(1, NumTrainingSteps - NumWarmupSteps))))),
        _ => throw new ArgumentOutOfRangeException(nameof(Type), Type, null),
    };
}
