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
    internal FineTuningRun(BertPreTrainedModel model, BertTokenizer? tokenizer, Trainer trainer, IReadOnlyList<string>? labels)
    {
        Model = model;
        Tokenizer = tokenizer;
        Trainer = trainer;
        Labels = labels;
    }

    /// <summary>The model being trained.</summary>
    public BertPreTrainedModel Model { get; }
    /// <summary>Its tokenizer; null when the model folder has none and the data is pre-tokenized.</summary>
    public BertTokenizer? Tokenizer { get; }
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
    /// <summary>Parses a task name (text-classification, token-classification, question-answering, fill-mask, or an alias).</summary>
    public static FineTuningTask ParseTask(string name) =>
        TaskTable.Find(name) is { FineTuning: { } t } ? t
            : throw new ArgumentException($"task '{name}' is not supported (text-classification, token-classification, question-answering, fill-mask)");

    /// <summary>The name of <paramref name="t"/> as <see cref="ParseTask"/> reads it.</summary>
    public static string TaskName(FineTuningTask t) => TaskTable.For(t).Name;

    /// <summary>The task a saved model was fine-tuned for, from config.json's <c>architectures</c>.</summary>
    public static FineTuningTask TaskOf(BertConfig config, string source) =>
        TaskTable.ForArchitecture(config.Architectures?.FirstOrDefault()) is { FineTuning: { } t } ? t
            : throw new ArgumentException($"{source}: architectures {config.Architectures?.FirstOrDefault() ?? "(none)"} is not a fine-tuned head (BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering, BertForMaskedLM); pass --task");

    /// <summary>
    /// Reads the data, builds the model and returns the trainer (seeded as HF's scripts: before the head is initialised).
    /// A model folder without tokenizer files is accepted when the data needs none (pre-tokenized <c>input_ids</c>, as
    /// HF's Trainer without a tokenizer); its checkpoints then hold no tokenizer files.
    /// </summary>
    public static FineTuningRun Prepare(FineTuneOptions options, TrainingArguments args)
    {
        args.Validate();
        NativeRuntime.EnsureLoaded();
        if (options.ConfigFile is not null && options.TaskKind != FineTuningTask.TextClassification)
            throw new ArgumentException($"a model from --config (random weights) is supported for text-classification, not {TaskName(options.TaskKind)}");
        Trainer.SetSeed(args.Seed);
        var tokenizer = TokenizerIfAny(options.Model);
        BertConfig checkpointConfig;
        using (var source = ModelLocator.Default.Open(options.Model)) checkpointConfig = source.Config;
        var context = new TrainingContext(options, args, tokenizer, checkpointConfig, new PretrainedOptions { Device = options.Device });
        return TaskTable.For(options.TaskKind).Training!.Prepare(context);
    }

    /// <summary>The model's tokenizer, or null when its folder has none (neither vocab.txt nor tokenizer.json).</summary>
    private static BertTokenizer? TokenizerIfAny(string model)
    {
        var resolved = ModelLocator.Default.Resolve(model, null, new Hub.ModelFileSelection { TokenizerOnly = true });
        var folder = File.Exists(resolved) ? Path.GetDirectoryName(Path.GetFullPath(resolved))! : resolved;
        if (Directory.Exists(folder) && !File.Exists(Path.Combine(folder, "vocab.txt")) && !File.Exists(Path.Combine(folder, "tokenizer.json")))
            return null;
        return TokenizerLoader.ForModel(model);
    }

    /// <summary>The tokenizer a task that tokenizes text needs; a clear error when the model folder has none.</summary>
    internal static BertTokenizer Require(BertTokenizer? tokenizer, FineTuneOptions options) => Require(tokenizer, options.Model, options.TaskKind);

    internal static BertTokenizer Require(BertTokenizer? tokenizer, string model, FineTuningTask task) =>
        tokenizer ?? throw new TokenizerException($"{model}: no vocab.txt or tokenizer.json in the tokenizer folder ({TaskName(task)} tokenizes its data; only pre-tokenized text-classification data works without a tokenizer)");

    /// <summary>A model built from a config.json with HF's random initialisation, on the device (cuda when available).</summary>
    internal static T FromConfig<T>(string path, Func<BertConfig, T> create, Device? device) where T : BertPreTrainedModel
    {
        var model = create(BertConfig.FromFile(path));
        model.to(device ?? Pretrained.DefaultDevice());
        return model;
    }

    /// <summary>The checkpoint's labels when it already is this head and they cover the data's; else the data's (a new head).</summary>
    internal static List<string> ChooseLabels(BertConfig checkpoint, string architecture, List<string> dataLabels)
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
        BertConfig config;
        using (var source = ModelLocator.Default.Open(modelPath)) config = source.Config;
        var t = task ?? TaskOf(config, modelPath);
        // As HF's Trainer: the tokenizer is loaded only when the data has text to tokenize (pre-tokenized rows need none).
        var context = new EvaluationContext(modelPath, dataFile, t, () => TokenizerIfAny(modelPath), new PretrainedOptions { Device = device },
            batchSize, maxSeqLength, docStride);
        return TaskTable.For(t).Training!.Evaluate(context);
    }

    /// <summary>Refuses a model whose head is newly initialised (its metrics would measure random weights), as the pipelines do.</summary>
    internal static T Trained<T>(T model, string head) where T : BertPreTrainedModel
    {
        if (model.LoadReport?.NewlyInitialized is not { Count: > 0 } fresh) return model;
        var groups = fresh.Select(k => string.Join('.', k.Split('.').Take(k.StartsWith("cls.", StringComparison.Ordinal) || k.StartsWith("bert.", StringComparison.Ordinal) ? 2 : 1)) + ".*").Distinct();
        var source = model.LoadReport.Source;
        model.Dispose();
        throw new ArgumentException($"{source} has no {head} ({string.Join(", ", groups)} were not in the checkpoint): its metrics would measure random weights; fine-tune it first");
    }
}
