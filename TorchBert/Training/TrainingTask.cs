using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary>
/// What the <see cref="Trainer"/> needs from a task: the model (with its head), how features become a batch, the
/// training loss of a batch, and an evaluator that turns eval batches into HF's metrics.
/// </summary>
public abstract class TrainingTask
{
    /// <summary>A task over <paramref name="model"/>; <paramref name="tokenizer"/> when the task needs one (e.g. masking).</summary>
    protected TrainingTask(BertPreTrainedModel model, BertTokenizer? tokenizer)
    {
        Model = model;
        Tokenizer = tokenizer;
    }

    /// <summary>The model being trained (the task does not own it).</summary>
    public BertPreTrainedModel Model { get; }

    /// <summary>Saved beside the model in every checkpoint (may be null for tests on raw ids).</summary>
    public BertTokenizer? Tokenizer { get; }

    /// <summary>Pad id used by the collator.</summary>
    public virtual long PadTokenId => Tokenizer?.PadTokenId ?? Model.Config.PadTokenId;

    /// <summary>
    /// Features → a batch on the model's device. <paramref name="generator"/> is seeded per batch by the trainer (from
    /// the seed, epoch and batch index) so random collation (MLM masking) is reproducible and resumable.
    /// </summary>
    public virtual TrainingBatch Collate(IReadOnlyList<Feature> features, Generator generator) =>
        DataCollator.Pad(features, PadTokenId, Model.Device);

    /// <summary>The training loss of a batch (a 0-d tensor in the caller's dispose scope; the model is in train mode).</summary>
    public abstract Tensor ComputeLoss(TrainingBatch batch);

    /// <summary>A fresh evaluator for one pass over the eval features.</summary>
    public abstract TaskEvaluator CreateEvaluator(IReadOnlyList<Feature> features);
}

/// <summary>
/// Accumulates one evaluation pass. <see cref="Add"/> is called per batch in eval mode under inference mode (inside a
/// dispose scope: copy what you keep to managed arrays); <see cref="Compute"/> returns the metrics without the
/// <c>eval_</c> prefix, <c>loss</c> included (HF: the mean of per-sample batch losses).
/// </summary>
public abstract class TaskEvaluator
{
    private double _lossSum;
    private int _count;

    /// <summary>Runs the model on the batch; returns its mean loss (0-d) and records predictions.</summary>
    protected abstract Tensor? Step(TrainingBatch batch);

    /// <summary>Adds one batch's outputs to the running totals.</summary>
    public void Add(TrainingBatch batch)
    {
        var loss = Step(batch);
        if (loss is not null)
        {
            _lossSum += loss.to(ScalarType.Float64).item<double>() * batch.Count;
            _count += batch.Count;
        }
    }

    /// <summary>Task metrics (accuracy, f1, ...), without loss.</summary>
    protected abstract Dictionary<string, double> Metrics();

    /// <summary>The metrics over everything added (eval_loss and the task's own).</summary>
    public Dictionary<string, double> Compute()
    {
        var m = new Dictionary<string, double>();
        if (_count > 0) m["loss"] = _lossSum / _count;
        foreach (var (k, v) in Metrics()) m[k] = v;
        return m;
    }

    /// <summary>Mean loss over the batches added.</summary>
    protected double MeanLoss => _count > 0 ? _lossSum / _count : double.NaN;
}
