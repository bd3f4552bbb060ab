using System.Text.RegularExpressions;

namespace TorchBert.Modeling;

/// <summary>
/// What a model class declares about loading, as HF declares it on each class (<c>base_model_prefix</c>,
/// <c>_tied_weights_keys</c>, <c>_keys_to_ignore_on_load_unexpected</c>). <see cref="Pretrained.LoadWeights"/> knows no
/// head by name: it applies the model's policy and one rule — keys outside the base-model prefix (<c>bert.</c>) are the
/// head's, so a checkpoint without them gives a freshly initialised head (the fine-tuning start), and a checkpoint
/// with a head the model lacks has those keys reported as ignored.
/// </summary>
public sealed record LoadingPolicy
{
    /// <summary>A class that declares nothing: every key must be in the checkpoint, and no key is tied.</summary>
    public static readonly LoadingPolicy None = new();

    /// <summary>
    /// HF <c>_tied_weights_keys</c>: alias key → the key that owns the tensor (e.g. <c>cls.predictions.decoder.weight</c> →
    /// <c>bert.embeddings.word_embeddings.weight</c>). An alias in a checkpoint is dropped (or serves as the owner when
    /// the checkpoint lacks it); the model's state dict lists it, as PyTorch's does.
    /// </summary>
    public IReadOnlyDictionary<string, string> TiedWeights { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Regexes of base-model keys a checkpoint may lack; they get HF's initialisation and are listed in
    /// <see cref="LoadReport.NewlyInitialized"/> (e.g. the pooler of a classifier loaded from an MLM checkpoint).
    /// Any other missing base-model key is an error.
    /// </summary>
    public IReadOnlyList<string> NewlyInitializedIfMissing { get; init; } = [];

    /// <summary>
    /// HF <c>_keys_to_ignore_on_load_unexpected</c>: regexes of base-model keys in a checkpoint that the class does not
    /// have and may ignore (e.g. <c>pooler</c> for classes built without one). Listed in <see cref="LoadReport.Unexpected"/>.
    /// Any other unexpected base-model key is an error: it means the checkpoint's encoder differs from the model's.
    /// </summary>
    public IReadOnlyList<string> KeysToIgnoreOnLoadUnexpected { get; init; } = [];

    /// <summary>Buffers older checkpoints saved (not weights): ignored by every class.</summary>
    internal static readonly IReadOnlyList<string> Buffers = [@"embeddings\.position_ids$", @"embeddings\.token_type_ids$"];

    internal static bool Matches(IEnumerable<string> patterns, string key) =>
        patterns.Any(p => Regex.IsMatch(key, p, RegexOptions.CultureInvariant));

    /// <summary>The tied decoder of BERT's MLM head (BertForMaskedLM, BertForPreTraining, BertLMHeadModel).</summary>
    public static readonly IReadOnlyDictionary<string, string> TiedMlmDecoder = new Dictionary<string, string>
    {
        ["cls.predictions.decoder.weight"] = BertPreTrainedModel.BaseModelPrefix + ".embeddings.word_embeddings.weight",
        ["cls.predictions.decoder.bias"] = "cls.predictions.bias",
    };

    /// <summary>With <c>tie_word_embeddings: false</c> only the decoder bias stays tied; the decoder weight is the head's own.</summary>
    public static readonly IReadOnlyDictionary<string, string> TiedMlmDecoderBias = new Dictionary<string, string>
    {
        ["cls.predictions.decoder.bias"] = "cls.predictions.bias",
    };

    /// <summary>HF's <c>[r"pooler"]</c>: classes built without a pooler ignore a checkpoint's.</summary>
    public static readonly IReadOnlyList<string> IgnorePooler = [@"(^|\.)pooler\."];

    /// <summary>Classes built with a pooler initialise it when the checkpoint (e.g. an MLM one) has none.</summary>
    public static readonly IReadOnlyList<string> InitPoolerIfMissing = [@"^bert\.pooler\."];
}
