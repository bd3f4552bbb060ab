using TorchBert.Checkpoints;
using TorchBert.Configuration;

namespace TorchBert.Modeling;

/// <summary>One registered model class: its HF name and how to build it for a config and a checkpoint's tensor names.</summary>
public sealed record BertArchitecture(string Name, Func<BertConfig, IReadOnlySet<string>, BertPreTrainedModel> Build)
{
    /// <summary>A freshly initialised model (HF's init) of this class for <paramref name="config"/>.</summary>
    public BertPreTrainedModel Create(BertConfig config) => Build(config, new HashSet<string>());
}

/// <summary>
/// HF <c>AutoModel</c> for BERT: the architecture registry. <c>config.json</c>'s <c>architectures</c> picks the class;
/// the converter, the CLI and the pipelines use this instead of looking at tensor names.
/// </summary>
public static class BertAutoModel
{
    private static readonly Dictionary<string, BertArchitecture> Registry = new[]
    {
        new BertArchitecture(nameof(BertModel), (c, keys) => new BertModel(c, BertModel.CheckpointHasPooler(keys))),
        new BertArchitecture(nameof(BertForMaskedLM), (c, _) => new BertForMaskedLM(c)),
        new BertArchitecture(nameof(BertForPreTraining), (c, _) => new BertForPreTraining(c)),
        new BertArchitecture(nameof(BertForNextSentencePrediction), (c, _) => new BertForNextSentencePrediction(c)),
        new BertArchitecture(nameof(BertForSequenceClassification), (c, _) => new BertForSequenceClassification(c)),
        new BertArchitecture(nameof(BertForMultipleChoice), (c, _) => new BertForMultipleChoice(c)),
        new BertArchitecture(nameof(BertForTokenClassification), (c, _) => new BertForTokenClassification(c)),
        new BertArchitecture(nameof(BertForQuestionAnswering), (c, _) => new BertForQuestionAnswering(c)),
        new BertArchitecture(nameof(BertLMHeadModel), (c, _) => new BertLMHeadModel(c)),
    }.ToDictionary(a => a.Name, StringComparer.Ordinal);

    /// <summary>The registered class names, in HF's modeling_bert.py order.</summary>
    public static IReadOnlyCollection<string> Architectures => Registry.Keys;

    /// <summary>The class for <paramref name="architecture"/> (an HF class name such as <c>BertForSequenceClassification</c>).</summary>
    public static BertArchitecture ForClass(string architecture) =>
        Registry.TryGetValue(architecture, out var a) ? a
            : throw new CheckpointException($"architecture '{architecture}' is not a TorchBert model class (known: {string.Join(", ", Registry.Keys)})");

    /// <summary>
    /// The class config.json names: the first registered entry of <c>architectures</c>; BertModel when the list is absent
    /// or names no registered class (its head keys are then reported as ignored). Non-BERT architectures are refused
    /// when the folder is opened (<see cref="ModelSource.OpenFolder"/>).
    /// </summary>
    public static BertArchitecture ForConfig(BertConfig config)
    {
        foreach (var name in config.Architectures ?? [])
            if (Registry.TryGetValue(name, out var a)) return a;
        return Registry[nameof(BertModel)];
    }
}
