using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary>The four tasks of <c>torchbert train</c>, named as HF's pipelines.</summary>
/// <summary>The tasks <c>torchbert train</c> fine-tunes, as HF's run_* example scripts.</summary>
public enum FineTuningTask
{
    /// <summary>Sequence classification (run_glue).</summary>
    TextClassification,
    /// <summary>Per-token tagging such as NER (run_ner).</summary>
    TokenClassification,
    /// <summary>Extractive question answering (run_qa).</summary>
    QuestionAnswering,
    /// <summary>Masked-language-model training (run_mlm).</summary>
    FillMask,
}

/// <summary>What <see cref="FineTuning.Prepare"/> needs besides the training arguments.</summary>
public sealed record FineTuneOptions
{
    /// <summary>The task.</summary>
    public required FineTuningTask TaskKind { get; init; }
    /// <summary>Model folder (a base checkpoint gets a new head) or a fine-tuned one.</summary>
    public required string Model { get; init; }
    /// <summary>
    /// A config.json to build the model from with HF's random initialisation (HF <c>from_config</c>: training from
    /// scratch, or a throughput benchmark); the tokenizer still comes from <see cref="Model"/>.
    /// </summary>
    public string? ConfigFile { get; init; }
    /// <summary>The training data file (CSV, TSV, JSON Lines; CoNLL for token classification; SQuAD JSON for QA).</summary>
    public required string TrainFile { get; init; }
    /// <summary>Optional evaluation data file.</summary>
    public string? EvalFile { get; init; }
    /// <summary>QA windows overlap by this many tokens (HF run_qa <c>doc_stride</c>).</summary>
    public int DocStride { get; init; } = 128;
    /// <summary>Training device (the default device when null).</summary>
    public Device? Device { get; init; }
}

/// <summary>A ready-to-run fine-tuning: model, tokenizer, features and the trainer. Owns the model.</summary>
public sealed class FineTuningRun : IDisposable
{
    internal FineTuningRun(BertPreTrainedModel model, BertTokenizer tokenizer, Trainer trainer, IReadOnlyList<string>? labels)
    {
        Model = model;
        Tokenizer = tokenizer;
        Trainer = trainer;
        Labels = labels;
    }

    /// <summary>The model being trained.</summary>
    public BertPreTrainedModel Model { get; }
    /// <summary>Its tokenizer.</summary>
    public BertTokenizer Tokenizer { get; }
    /// <summary>The trainer.</summary>
    public Trainer Trainer { get; }
    /// <summary>The class / tag names (id order), for classification tasks.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>Disposes the trainer and the model.</summary>
    public void Dispose()
    {
        Trainer.Dispose();
        Model.Dispose();
    }
}

/// <summary>
/// HF's example scripts (run_glue, run_ner, run_qa, run_mlm) as one library call: read the data, build the model with
/// the right head (labels from the training data, as the scripts do, unless the checkpoint's own labels cover them),
/// tokenize, and return a <see cref="Trainer"/> ready to train. <see cref="Evaluate"/> scores a saved model on a file.
/// </summary>
public static class FineTuning
{
    /// <summary>Parses a task name (text-classification, token-classification, question-answering, fill-mask).</summary>
    public static FineTuningTask ParseTask(string name) => name switch
    {
        "text-classification" or "sequence-classification" => FineTuningTask.TextClassification,
        "token-classification" or "ner" => FineTuningTask.TokenClassification,
        "question-answering" => FineTuningTask.QuestionAnswering,
        "fill-mask" or "mlm" => FineTuningTask.FillMask,
        _ => throw new ArgumentException($"task '{name}' is not supported (text-classification, token-classification, question-answering, fill-mask)"),
    };

    /// <summary>The name of <paramref name="t"/> as <see cref="ParseTask"/> reads it.</summary>
    public static string TaskName(FineTuningTask t) => t switch
    {
        FineTuningTask.TextClassification => "text-classification",
        FineTuningTask.TokenClassification => "token-classification",
        FineTuningTask.QuestionAnswering => "question-answering",
        _ => "fill-mask",
    };

    /// <summary>The task a saved model was fine-tuned for, from config.json's <c>architectures</c>.</summary>
    public static FineTuningTask TaskOf(BertConfig config, string source) => config.Architectures?.FirstOrDefault() switch
    {
        nameof(BertForSequenceClassification) => FineTuningTask.TextClassification,
        nameof(BertForTokenClassification) => FineTuningTask.TokenClassification,
        nameof(BertForQuestionAnswering) => FineTuningTask.QuestionAnswering,
        nameof(BertForMaskedLM) => FineTuningTask.FillMask,
        var a => throw new ArgumentException($"{source}: architectures {a ?? "(none)"} is not a fine-tuned head (BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering, BertForMaskedLM); pass --task"),
    };

    /// <summary>Reads the data, builds the model and returns the trainer (seeded as HF's scripts: before the head is initialised).</summary>
    public static FineTuningRun Prepare(FineTuneOptions options, TrainingArguments args)
    {
        args.Validate();
        NativeRuntime.EnsureLoaded();
        if (options.ConfigFile is not null && options.TaskKind != FineTuningTask.TextClassification)
            throw new ArgumentException($"a model from --config (random weights) is supported for text-classification, not {TaskName(options.TaskKind)}");
        Trainer.SetSeed(args.Seed);
        var tokenizer = TokenizerLoader.ForModel(options.Model);
        BertConfig checkpointConfig;
        using (var source = ModelLocator.Open(options.Model)) checkpointConfig = source.Config;
        var pretrained = new PretrainedOptions { Device = options.Device };
        BertPreTrainedModel? model = null;
        try
        {
            switch (options.TaskKind)
            {
                case FineTuningTask.TextClassification:
                {
                    var train = TextClassificationData.Read(options.TrainFile);
                    var eval = options.EvalFile is null ? null : TextClassificationData.Read(options.EvalFile);
                    var labels = ChooseLabels(checkpointConfig, nameof(BertForSequenceClassification), TextClassificationData.Labels(train));
                    var m = options.ConfigFile is { } cf
                        ? FromConfig(cf, c => new BertForSequenceClassification(c.SetLabels(labels)), options.Device)
                        : BertForSequenceClassification.FromPretrained(options.Model, pretrained with { ConfigureConfig = c => c.SetLabels(labels) });
                    model = m;
                    var l2i = m.Config.Label2Id;
                    var trainer = new Trainer(args, new SequenceClassificationTask(m, tokenizer),
                        TextClassificationData.Features(train, tokenizer, l2i, args.MaxSeqLength),
                        eval is null ? null : TextClassificationData.Features(eval, tokenizer, l2i, args.MaxSeqLength));
                    return new FineTuningRun(m, tokenizer, trainer, labels);
                }
                case FineTuningTask.TokenClassification:
                {
                    var train = TokenClassificationData.Read(options.TrainFile);
                    var eval = options.EvalFile is null ? null : TokenClassificationData.Read(options.EvalFile);
                    var labels = ChooseLabels(checkpointConfig, nameof(BertForTokenClassification), TokenClassificationData.Labels(train));
                    var m = BertForTokenClassification.FromPretrained(options.Model, pretrained with { ConfigureConfig = c => c.SetLabels(labels) });
                    model = m;
                    var l2i = m.Config.Label2Id;
                    var trainer = new Trainer(args, new TokenClassificationTask(m, tokenizer),
                        TokenClassificationData.Features(train, tokenizer, l2i, args.MaxSeqLength),
                        eval is null ? null : TokenClassificationData.Features(eval, tokenizer, l2i, args.MaxSeqLength));
                    return new FineTuningRun(m, tokenizer, trainer, labels);
                }
                case FineTuningTask.QuestionAnswering:
                {
                    var train = QuestionAnsweringData.Read(options.TrainFile);
                    var eval = options.EvalFile is null ? null : QuestionAnsweringData.Read(options.EvalFile);
                    var m = BertForQuestionAnswering.FromPretrained(options.Model, pretrained);
                    model = m;
                    var stride = Math.Min(options.DocStride, args.MaxSeqLength / 4);
                    var trainer = new Trainer(args, new QuestionAnsweringTask(m, tokenizer, eval ?? []),
                        QuestionAnsweringData.Features(train, tokenizer, args.MaxSeqLength, stride, training: true),
                        eval is null ? null : QuestionAnsweringData.Features(eval, tokenizer, args.MaxSeqLength, stride, training: true));
                    return new FineTuningRun(m, tokenizer, trainer, null);
                }
                default:
                {
                    var m = BertForMaskedLM.FromPretrained(options.Model, pretrained);
                    model = m;
                    var trainer = new Trainer(args, new MaskedLMTask(m, tokenizer),
                        MaskedLMData.Features(options.TrainFile, tokenizer, args.MaxSeqLength),
                        options.EvalFile is null ? null : MaskedLMData.Features(options.EvalFile, tokenizer, args.MaxSeqLength));
                    return new FineTuningRun(m, tokenizer, trainer, null);
                }
            }
        }
        catch
        {
            model?.Dispose();
            throw;
        }
    }

    /// <summary>A model built from a config.json with HF's random initialisation, on the device (cuda when available).</summary>
    private static T FromConfig<T>(string path, Func<BertConfig, T> create, Device? device) where T : BertPreTrainedModel
    {
        var model = create(BertConfig.FromFile(path));
        model.to(device ?? Pretrained.DefaultDevice());
        return model;
    }

    /// <summary>The checkpoint's labels when it already is this head and they cover the data's; else the data's (a new head).</summary>
    private static List<string> ChooseLabels(BertConfig checkpoint, string architecture, List<string> dataLabels)
    {
        if (checkpoint.Architectures?.Contains(architecture) == true && dataLabels.All(checkpoint.Label2Id.ContainsKey))
            return checkpoint.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToList();
        return dataLabels;
    }

    /// <summary>
    /// HF <c>trainer.evaluate()</c> of a saved model on a data file: the task from config.json's architectures (or
    /// <paramref name="task"/>), the file read as for training, metrics with the <c>eval_</c> prefix.
    /// </summary>
    public static Dictionary<string, double> Evaluate(string modelPath, string dataFile, FineTuningTask? task = null, int batchSize = 8,
        int maxSeqLength = 128, int docStride = 128, Device? device = null)
    {
        NativeRuntime.EnsureLoaded();
        var tokenizer = TokenizerLoader.ForModel(modelPath);
        BertConfig config;
        using (var source = ModelLocator.Open(modelPath)) config = source.Config;
        var t = task ?? TaskOf(config, modelPath);
        var pretrained = new PretrainedOptions { Device = device };
        switch (t)
        {
            case FineTuningTask.TextClassification:
            {
                using var m = Trained(BertForSequenceClassification.FromPretrained(modelPath, pretrained), "sequence-classification head");
                var features = TextClassificationData.Features(TextClassificationData.Read(dataFile), tokenizer, m.Config.Label2Id, maxSeqLength);
                return Evaluation.Run(new SequenceClassificationTask(m, tokenizer), features, batchSize);
            }
            case FineTuningTask.TokenClassification:
            {
                using var m = Trained(BertForTokenClassification.FromPretrained(modelPath, pretrained), "token-classification head");
                var features = TokenClassificationData.Features(TokenClassificationData.Read(dataFile), tokenizer, m.Config.Label2Id, maxSeqLength);
                return Evaluation.Run(new TokenClassificationTask(m, tokenizer), features, batchSize);
            }
            case FineTuningTask.QuestionAnswering:
            {
                using var m = Trained(BertForQuestionAnswering.FromPretrained(modelPath, pretrained), "question-answering head");
                var examples = QuestionAnsweringData.Read(dataFile);
                var features = QuestionAnsweringData.Features(examples, tokenizer, maxSeqLength, Math.Min(docStride, maxSeqLength / 4), training: true);
                return Evaluation.Run(new QuestionAnsweringTask(m, tokenizer, examples), features, batchSize);
            }
            default:
            {
                using var m = Trained(BertForMaskedLM.FromPretrained(modelPath, pretrained), "MLM head");
                return Evaluation.Run(new MaskedLMTask(m, tokenizer), MaskedLMData.Features(dataFile, tokenizer, maxSeqLength), batchSize);
            }
        }
    }

    /// <summary>
    /// Evaluating a head the checkpoint does not have measures random weights: refused, as the pipelines refuse to run
    /// one (the model is disposed).
    /// </summary>
    private static T Trained<T>(T model, string head) where T : BertPreTrainedModel
    {
        if (model.LoadReport?.NewlyInitialized is not { Count: > 0 } fresh) return model;
        var groups = fresh.Select(k => string.Join('.', k.Split('.').Take(k.StartsWith("cls.", StringComparison.Ordinal) || k.StartsWith("bert.", StringComparison.Ordinal) ? 2 : 1)) + ".*").Distinct();
        var source = model.LoadReport.Source;
        model.Dispose();
        throw new ArgumentException($"{source} has no {head} ({string.Join(", ", groups)} were not in the checkpoint): its metrics would measure random weights; fine-tune it first");
    }
}
