using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tokenization;

namespace TorchBert.Training;

/// <summary>
/// Everything TorchBert knows about one task, in one place (HF's <c>SUPPORTED_TASKS</c> entry plus the fine-tuning
/// pieces of its run_* script): the HF task name and aliases, the model class, HF's input names, the pipeline, how HF
/// shapes the pipeline's output, and (for the tasks <c>torchbert train</c> fine-tunes) the data reader and training task.
/// The trainer, the CLI and the server all read it from <see cref="TaskTable"/>.
/// </summary>
public sealed class TaskDescriptor
{
    internal TaskDescriptor() { }

    /// <summary>HF's task name, e.g. <c>text-classification</c> (the key of transformers' <c>SUPPORTED_TASKS</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Other names accepted for the task (HF's <c>TASK_ALIASES</c>, e.g. <c>sentiment-analysis</c>, <c>ner</c>).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The model class (an HF class name registered in <see cref="BertAutoModel"/>, e.g. <c>BertForSequenceClassification</c>).</summary>
    public required string ModelClass { get; init; }

    /// <summary>
    /// The keys HF's pipeline reads from a dict input, in order (e.g. <c>text</c>, <c>text_pair</c> for
    /// text-classification; <c>question</c>, <c>context</c> for question-answering); a plain string input is the first.
    /// </summary>
    public required IReadOnlyList<string> InputNames { get; init; }

    /// <summary>The pipeline class that runs the task.</summary>
    public required Type PipelineType { get; init; }

    /// <summary>
    /// Builds the task's pipeline for a model (a folder, .onnx export, the embedded model or a Hub id; see
    /// <see cref="ModelLocator"/>). The caller disposes it.
    /// </summary>
    public required Func<string, PipelineOptions?, IDisposable> CreatePipeline { get; init; }

    /// <summary>
    /// HF's single-input rule for this task: a call with one input (not a list) returns that input's result itself;
    /// <c>true</c> here means HF wraps it in a list of one instead (text-classification without <c>top_k</c>).
    /// </summary>
    public bool SingleInputIsListOfOne { get; init; }

    /// <summary>
    /// Whether one input can give one result per position (fill-mask: a text with several <c>[MASK]</c> gives a list of
    /// candidate lists, one per mask; with one mask, the candidate list itself).
    /// </summary>
    public bool NestsPerMask { get; init; }

    /// <summary>The task <c>torchbert train</c> fine-tunes for it; null when it is inference only.</summary>
    public FineTuningTask? FineTuning { get; init; }

    /// <summary>The fine-tuning steps (data reader, model head, training task); null when inference only.</summary>
    internal TaskTraining? Training { get; init; }

    /// <summary>
    /// HF's output shape for a call: <paramref name="perInput"/> holds each input's result (already in HF's per-input
    /// form); one input given as a single value (<paramref name="singleInput"/>) returns its result alone (or a list of
    /// one, see <see cref="SingleInputIsListOfOne"/>: HF's text-classification does that only when the call has no
    /// <c>top_k</c>, its <c>_legacy</c> flag, so <paramref name="topKGiven"/> turns it off), a list of inputs returns the list.
    /// </summary>
    public object HfOutput<T>(IReadOnlyList<T> perInput, bool singleInput, bool topKGiven = false) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(perInput);
        if (!singleInput) return perInput;
        if (perInput.Count != 1) throw new ArgumentException($"a single input has one result, got {perInput.Count}", nameof(perInput));
        return SingleInputIsListOfOne && !topKGiven ? new object[] { perInput[0] } : perInput[0];
    }

    /// <summary>
    /// HF's per-input form of a position-wise result (<see cref="NestsPerMask"/>): one position → its list, several →
    /// the list of lists.
    /// </summary>
    public static object PerPosition<T>(IReadOnlyList<IReadOnlyList<T>> perPosition)
    {
        ArgumentNullException.ThrowIfNull(perPosition);
        return perPosition.Count == 1 ? perPosition[0] : perPosition;
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// The one task table (transformers' <c>SUPPORTED_TASKS</c> for what TorchBert runs): look a task up by name or alias,
/// by the model class a config.json names, or by the fine-tuning task.
/// </summary>
public static class TaskTable
{
    /// <summary>Every task, in HF's pipeline order.</summary>
    public static IReadOnlyList<TaskDescriptor> All { get; } =
    [
        new()
        {
            Name = "feature-extraction", ModelClass = nameof(BertModel), InputNames = ["inputs"],
            PipelineType = typeof(FeatureExtractionPipeline), CreatePipeline = (m, o) => FeatureExtractionPipeline.FromPretrained(m, o),
        },
        new()
        {
            Name = "text-classification", Aliases = ["sentiment-analysis", "sequence-classification"], ModelClass = nameof(BertForSequenceClassification),
            InputNames = ["text", "text_pair"], PipelineType = typeof(TextClassificationPipeline),
            CreatePipeline = (m, o) => TextClassificationPipeline.FromPretrained(m, o), SingleInputIsListOfOne = true,
            FineTuning = FineTuningTask.TextClassification, Training = TaskTraining.TextClassification,
        },
        new()
        {
            Name = "token-classification", Aliases = ["ner"], ModelClass = nameof(BertForTokenClassification), InputNames = ["inputs"],
            PipelineType = typeof(TokenClassificationPipeline), CreatePipeline = (m, o) => TokenClassificationPipeline.FromPretrained(m, o),
            FineTuning = FineTuningTask.TokenClassification, Training = TaskTraining.TokenClassification,
        },
        new()
        {
            Name = "question-answering", ModelClass = nameof(BertForQuestionAnswering), InputNames = ["question", "context"],
            PipelineType = typeof(QuestionAnsweringPipeline), CreatePipeline = (m, o) => QuestionAnsweringPipeline.FromPretrained(m, o),
            FineTuning = FineTuningTask.QuestionAnswering, Training = TaskTraining.QuestionAnswering,
        },
        new()
        {
            Name = "fill-mask", Aliases = ["mlm"], ModelClass = nameof(BertForMaskedLM), InputNames = ["inputs"],
            PipelineType = typeof(FillMaskPipeline), CreatePipeline = (m, o) => FillMaskPipeline.FromPretrained(m, o), NestsPerMask = true,
            FineTuning = FineTuningTask.FillMask, Training = TaskTraining.FillMask,
        },
        new()
        {
            Name = "zero-shot-classification", ModelClass = nameof(BertForSequenceClassification), InputNames = ["sequences", "candidate_labels"],
            PipelineType = typeof(ZeroShotClassificationPipeline), CreatePipeline = (m, o) => ZeroShotClassificationPipeline.FromPretrained(m, o),
        },
    ];

    /// <summary>The task named <paramref name="nameOrAlias"/> (HF's name or an alias, any case); null when none.</summary>
    public static TaskDescriptor? Find(string nameOrAlias) =>
        All.FirstOrDefault(t => string.Equals(t.Name, nameOrAlias, StringComparison.OrdinalIgnoreCase)
                                || t.Aliases.Contains(nameOrAlias, StringComparer.OrdinalIgnoreCase));

    /// <summary>The task named <paramref name="nameOrAlias"/>; an <see cref="ArgumentException"/> listing the names when none.</summary>
    public static TaskDescriptor Get(string nameOrAlias) =>
        Find(nameOrAlias) ?? throw new ArgumentException($"task '{nameOrAlias}' is not supported ({string.Join(", ", All.Select(t => t.Name))})");

    /// <summary>The fine-tuning task's descriptor.</summary>
    public static TaskDescriptor For(FineTuningTask task) => All.First(t => t.FineTuning == task);

    /// <summary>The task a fine-tuned model class serves (the first task with that <see cref="TaskDescriptor.ModelClass"/>); null for none.</summary>
    public static TaskDescriptor? ForArchitecture(string? modelClass) =>
        modelClass is null ? null : All.FirstOrDefault(t => t.FineTuning is not null && t.ModelClass == modelClass);
}

/// <summary>What <see cref="TaskTraining.Prepare"/> gets: the options, the arguments, the tokenizer (null when the model has none) and the checkpoint's config.</summary>
internal sealed record TrainingContext(FineTuneOptions Options, TrainingArguments Args, BertTokenizer? Tokenizer, BertConfig CheckpointConfig, PretrainedOptions Pretrained);

/// <summary>
/// What <see cref="TaskTraining.Evaluate"/> gets. <see cref="TokenizerIfAny"/> loads the model's tokenizer (null when its
/// folder has none), <see cref="Tokenizer"/> requires one; an evaluation calls them only when its data has text.
/// </summary>
internal sealed record EvaluationContext(string ModelPath, string DataFile, FineTuningTask Task, Func<BertTokenizer?> TokenizerIfAny,
    PretrainedOptions Pretrained, int BatchSize, int MaxSeqLength, int DocStride)
{
    /// <summary>The model's tokenizer; a <see cref="TokenizerException"/> when its folder has none.</summary>
    public BertTokenizer Tokenizer() => FineTuning.Require(TokenizerIfAny(), ModelPath, Task);
}

/// <summary>One task's fine-tuning steps (HF's run_glue / run_ner / run_qa / run_mlm): read the data, build the head, tokenize, train or evaluate.</summary>
internal sealed record TaskTraining(Func<TrainingContext, FineTuningRun> Prepare, Func<EvaluationContext, Dictionary<string, double>> Evaluate)
{
    /// <summary>Builds the model and its run, disposing the model if anything after it fails.</summary>
    private static FineTuningRun Guard<TModel>(TModel model, Func<TModel, FineTuningRun> build) where TModel : BertPreTrainedModel
    {
        try { return build(model); }
        catch { model.Dispose(); throw; }
    }

    public static readonly TaskTraining TextClassification = new(
        c =>
        {
            var o = c.Options;
            var train = TextClassificationData.Read(o.TrainFile);
            var eval = o.EvalFile is null ? null : TextClassificationData.Read(o.EvalFile);
            var labels = FineTuning.ChooseLabels(c.CheckpointConfig, nameof(BertForSequenceClassification), TextClassificationData.Labels(train));
            var model = o.ConfigFile is { } cf
                ? FineTuning.FromConfig(cf, cfg => new BertForSequenceClassification(cfg.SetLabels(labels)), o.Device)
                : BertForSequenceClassification.FromPretrained(o.Model, c.Pretrained with { ConfigureConfig = cfg => cfg.SetLabels(labels) });
            return Guard(model, m =>
            {
                var l2i = m.Config.Label2Id;
                var trainer = new Trainer(c.Args, new SequenceClassificationTask(m, c.Tokenizer),
                    TextClassificationData.Features(train, c.Tokenizer, l2i, c.Args.MaxSeqLength),
                    eval is null ? null : TextClassificationData.Features(eval, c.Tokenizer, l2i, c.Args.MaxSeqLength));
                return new FineTuningRun(m, c.Tokenizer, trainer, labels);
            });
        },
        e =>
        {
            using var m = FineTuning.Trained(BertForSequenceClassification.FromPretrained(e.ModelPath, e.Pretrained), "sequence-classification head");
            var records = TextClassificationData.Read(e.DataFile);
            // a text row without a tokenizer is a data error naming its file:line (Features)
            var tokenizer = records.All(r => r.Has("input_ids")) ? null : e.TokenizerIfAny();
            var features = TextClassificationData.Features(records, tokenizer, m.Config.Label2Id, e.MaxSeqLength);
            return Evaluation.Run(new SequenceClassificationTask(m, tokenizer), features, e.BatchSize);
        });

    public static readonly TaskTraining TokenClassification = new(
        c =>
        {
            var o = c.Options;
            var tokenizer = FineTuning.Require(c.Tokenizer, o);
            var train = TokenClassificationData.Read(o.TrainFile);
            var eval = o.EvalFile is null ? null : TokenClassificationData.Read(o.EvalFile);
            var labels = FineTuning.ChooseLabels(c.CheckpointConfig, nameof(BertForTokenClassification), TokenClassificationData.Labels(train));
            return Guard(BertForTokenClassification.FromPretrained(o.Model, c.Pretrained with { ConfigureConfig = cfg => cfg.SetLabels(labels) }), m =>
            {
                var l2i = m.Config.Label2Id;
                var trainer = new Trainer(c.Args, new TokenClassificationTask(m, tokenizer),
                    TokenClassificationData.Features(train, tokenizer, l2i, c.Args.MaxSeqLength),
                    eval is null ? null : TokenClassificationData.Features(eval, tokenizer, l2i, c.Args.MaxSeqLength));
                return new FineTuningRun(m, tokenizer, trainer, labels);
            });
        },
        e =>
        {
            using var m = FineTuning.Trained(BertForTokenClassification.FromPretrained(e.ModelPath, e.Pretrained), "token-classification head");
            var tokenizer = e.Tokenizer();
            var features = TokenClassificationData.Features(TokenClassificationData.Read(e.DataFile), tokenizer, m.Config.Label2Id, e.MaxSeqLength);
            return Evaluation.Run(new TokenClassificationTask(m, tokenizer), features, e.BatchSize);
        });

    public static readonly TaskTraining QuestionAnswering = new(
        c =>
        {
            var o = c.Options;
            var tokenizer = FineTuning.Require(c.Tokenizer, o);
            var train = QuestionAnsweringData.Read(o.TrainFile);
            var eval = o.EvalFile is null ? null : QuestionAnsweringData.Read(o.EvalFile);
            return Guard(BertForQuestionAnswering.FromPretrained(o.Model, c.Pretrained), m =>
            {
                var stride = Math.Min(o.DocStride, c.Args.MaxSeqLength / 4);
                var trainer = new Trainer(c.Args, new QuestionAnsweringTask(m, tokenizer, eval ?? []),
                    QuestionAnsweringData.Features(train, tokenizer, c.Args.MaxSeqLength, stride, training: true),
                    eval is null ? null : QuestionAnsweringData.Features(eval, tokenizer, c.Args.MaxSeqLength, stride, training: true));
                return new FineTuningRun(m, tokenizer, trainer, null);
            });
        },
        e =>
        {
            using var m = FineTuning.Trained(BertForQuestionAnswering.FromPretrained(e.ModelPath, e.Pretrained), "question-answering head");
            var examples = QuestionAnsweringData.Read(e.DataFile);
            var tokenizer = e.Tokenizer();
            var features = QuestionAnsweringData.Features(examples, tokenizer, e.MaxSeqLength, Math.Min(e.DocStride, e.MaxSeqLength / 4), training: true);
            return Evaluation.Run(new QuestionAnsweringTask(m, tokenizer, examples), features, e.BatchSize);
        });

    public static readonly TaskTraining FillMask = new(
        c =>
        {
            var o = c.Options;
            var tokenizer = FineTuning.Require(c.Tokenizer, o);
            return Guard(BertForMaskedLM.FromPretrained(o.Model, c.Pretrained), m =>
            {
                var trainer = new Trainer(c.Args, new MaskedLMTask(m, tokenizer),
                    MaskedLMData.Features(o.TrainFile, tokenizer, c.Args.MaxSeqLength),
                    o.EvalFile is null ? null : MaskedLMData.Features(o.EvalFile, tokenizer, c.Args.MaxSeqLength));
                return new FineTuningRun(m, tokenizer, trainer, null);
            });
        },
        e =>
        {
            using var m = FineTuning.Trained(BertForMaskedLM.FromPretrained(e.ModelPath, e.Pretrained), "MLM head");
            var tokenizer = e.Tokenizer();
            return Evaluation.Run(new MaskedLMTask(m, tokenizer), MaskedLMData.Features(e.DataFile, tokenizer, e.MaxSeqLength), e.BatchSize);
        });
}
