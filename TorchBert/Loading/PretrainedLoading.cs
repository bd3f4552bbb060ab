using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Modeling;

namespace TorchBert.Loading;

// The model classes live in Modeling, which knows nothing of paths, the Hub or ONNX; their FromPretrained(path or id)
// entry points are added here, one layer up, as C# 14 static extension members: `BertModel.FromPretrained("bert-base-uncased")`
// reads as before, with `using TorchBert.Loading;`.

/// <summary>
/// HF <c>from_pretrained</c> from a path or id for every model class: <c>BertModel.FromPretrained(...)</c>,
/// <c>BertForSequenceClassification.FromPretrainedAsync(...)</c>, <c>BertAutoModel.FromPretrained(...)</c>. The model is
/// opened by <see cref="ModelLocator.Open"/> (local folder, .onnx export, the embedded default, a Hub id) and read by
/// <see cref="Pretrained.Load{T}(ModelSource, PretrainedOptions?, Func{BertConfig, IReadOnlySet{string}, T}, string?)"/>.
/// </summary>
public static class PretrainedLoading
{
    /// <summary>
    /// Opens <paramref name="pathOrId"/> with <paramref name="locator"/> (null = <see cref="ModelLocator.Default"/>) and
    /// loads it through <paramref name="create"/> (config, the checkpoint's tensor names → an uninitialised model); see
    /// <see cref="Pretrained.Load{T}(ModelSource, PretrainedOptions?, Func{BertConfig, IReadOnlySet{string}, T}, string?)"/>.
    /// </summary>
    public static T Load<T>(string pathOrId, PretrainedOptions? options, Func<BertConfig, IReadOnlySet<string>, T> create,
        ModelLocator? locator = null) where T : BertPreTrainedModel
    {
        Pretrained.CheckDType(options);
        NativeRuntime.EnsureLoaded();
        using var source = (locator ?? ModelLocator.Default).Open(pathOrId, options?.NumAttentionHeads, options?.Revision);
        return Pretrained.Load(source, options, create, pathOrId);
    }

    /// <summary>
    /// The async form of <see cref="Load{T}"/>: the Hub download (if <paramref name="pathOrId"/> is a Hub id and not
    /// cached) runs asynchronously and honours <paramref name="ct"/>; the load itself then reads the local snapshot.
    /// </summary>
    public static async Task<T> LoadAsync<T>(string pathOrId, PretrainedOptions? options, Func<BertConfig, IReadOnlySet<string>, T> create,
        ModelLocator? locator = null, CancellationToken ct = default) where T : BertPreTrainedModel
    {
        Pretrained.CheckDType(options);
        NativeRuntime.EnsureLoaded();
        using var source = await (locator ?? ModelLocator.Default).OpenAsync(pathOrId, options?.NumAttentionHeads, options?.Revision, ct).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return Pretrained.Load(source, options, create, pathOrId);
    }
}

/// <summary><c>Pretrained.Load(path, options, create)</c>: loads a path or id through a model factory.</summary>
public static class PretrainedExtensions
{
    extension(Pretrained)
    {
        /// <inheritdoc cref="PretrainedLoading.Load{T}(string, PretrainedOptions?, Func{BertConfig, IReadOnlySet{string}, T}, ModelLocator?)"/>
        public static T Load<T>(string pathOrId, PretrainedOptions? options, Func<BertConfig, IReadOnlySet<string>, T> create) where T : BertPreTrainedModel =>
            PretrainedLoading.Load(pathOrId, options, create);

        /// <summary>HF <c>AutoModel</c>-style: the class named by config.json's <c>architectures</c> (see <see cref="BertAutoModel"/>).</summary>
        public static BertPreTrainedModel LoadAuto(string pathOrId, PretrainedOptions? options = null) => BertAutoModel.FromPretrained(pathOrId, options);
    }
}

/// <summary><c>BertAutoModel.FromPretrained</c>: the class config.json's <c>architectures</c> names.</summary>
public static class BertAutoModelLoading
{
    extension(BertAutoModel)
    {
        /// <summary>Loads a model (see <see cref="ModelLocator.Open"/>) into the class its config.json names (<see cref="BertAutoModel.ForConfig"/>).</summary>
        public static BertPreTrainedModel FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load<BertPreTrainedModel>(pathOrId, options, (c, keys) => BertAutoModel.ForConfig(c).Build(c, keys));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertPreTrainedModel FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load<BertPreTrainedModel>(pathOrId, options, (c, keys) => BertAutoModel.ForConfig(c).Build(c, keys), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertPreTrainedModel> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync<BertPreTrainedModel>(pathOrId, options, (c, keys) => BertAutoModel.ForConfig(c).Build(c, keys), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertPreTrainedModel> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync<BertPreTrainedModel>(pathOrId, options, (c, keys) => BertAutoModel.ForConfig(c).Build(c, keys), locator, ct);
    }

    /// <summary><c>architecture.FromPretrained(path)</c> for a registered class.</summary>
    extension(BertArchitecture architecture)
    {
        /// <summary>Loads a model into this class (the config's <c>architectures</c> is not consulted).</summary>
        public BertPreTrainedModel FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, architecture.Build);
    }
}

/// <summary><c>BertModel.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertModelLoading
{
    extension(BertModel)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertModel"/>. BertModel's own loading rule: it has a pooler when
        /// the checkpoint has one (an MLM checkpoint has none, and none is invented); a head checkpoint's head keys are
        /// reported as ignored.
        /// </summary>
        public static BertModel FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, keys) => new BertModel(c, BertModel.CheckpointHasPooler(keys)));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertModel FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, keys) => new BertModel(c, BertModel.CheckpointHasPooler(keys)), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertModel> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, keys) => new BertModel(c, BertModel.CheckpointHasPooler(keys)), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertModel> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, keys) => new BertModel(c, BertModel.CheckpointHasPooler(keys)), locator, ct);
    }
}

/// <summary><c>BertForMaskedLM.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertForMaskedLMLoading
{
    extension(BertForMaskedLM)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertForMaskedLM"/>.
        /// </summary>
        public static BertForMaskedLM FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForMaskedLM(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertForMaskedLM FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForMaskedLM(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertForMaskedLM> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForMaskedLM(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertForMaskedLM> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForMaskedLM(c), locator, ct);
    }
}

/// <summary><c>BertForPreTraining.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertForPreTrainingLoading
{
    extension(BertForPreTraining)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertForPreTraining"/>.
        /// </summary>
        public static BertForPreTraining FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForPreTraining(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertForPreTraining FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForPreTraining(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertForPreTraining> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForPreTraining(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertForPreTraining> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForPreTraining(c), locator, ct);
    }
}

/// <summary><c>BertForNextSentencePrediction.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertForNextSentencePredictionLoading
{
    extension(BertForNextSentencePrediction)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertForNextSentencePrediction"/>.
        /// </summary>
        public static BertForNextSentencePrediction FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForNextSentencePrediction(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertForNextSentencePrediction FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForNextSentencePrediction(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertForNextSentencePrediction> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForNextSentencePrediction(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertForNextSentencePrediction> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForNextSentencePrediction(c), locator, ct);
    }
}

/// <summary><c>BertForSequenceClassification.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertForSequenceClassificationLoading
{
    extension(BertForSequenceClassification)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertForSequenceClassification"/>; a base checkpoint gives a new head.
        /// </summary>
        public static BertForSequenceClassification FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForSequenceClassification(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertForSequenceClassification FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForSequenceClassification(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertForSequenceClassification> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForSequenceClassification(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertForSequenceClassification> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForSequenceClassification(c), locator, ct);
    }
}

/// <summary><c>BertForMultipleChoice.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertForMultipleChoiceLoading
{
    extension(BertForMultipleChoice)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertForMultipleChoice"/>; a base checkpoint gives a new head.
        /// </summary>
        public static BertForMultipleChoice FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForMultipleChoice(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertForMultipleChoice FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForMultipleChoice(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertForMultipleChoice> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForMultipleChoice(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertForMultipleChoice> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForMultipleChoice(c), locator, ct);
    }
}

/// <summary><c>BertForTokenClassification.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertForTokenClassificationLoading
{
    extension(BertForTokenClassification)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertForTokenClassification"/>; a base checkpoint gives a new head.
        /// </summary>
        public static BertForTokenClassification FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForTokenClassification(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertForTokenClassification FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForTokenClassification(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertForTokenClassification> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForTokenClassification(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertForTokenClassification> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForTokenClassification(c), locator, ct);
    }
}

/// <summary><c>BertForQuestionAnswering.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertForQuestionAnsweringLoading
{
    extension(BertForQuestionAnswering)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertForQuestionAnswering"/>; a base checkpoint gives a new head.
        /// </summary>
        public static BertForQuestionAnswering FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForQuestionAnswering(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertForQuestionAnswering FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertForQuestionAnswering(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertForQuestionAnswering> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForQuestionAnswering(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertForQuestionAnswering> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertForQuestionAnswering(c), locator, ct);
    }
}

/// <summary><c>BertLMHeadModel.FromPretrained</c> / <c>FromPretrainedAsync</c>.</summary>
public static class BertLMHeadModelLoading
{
    extension(BertLMHeadModel)
    {
        /// <summary>
        /// Loads a model (a local HF or converted folder, a .onnx export, the embedded default, or a Hub id; see
        /// <see cref="ModelLocator.Open"/>) as a <see cref="BertLMHeadModel"/>.
        /// </summary>
        public static BertLMHeadModel FromPretrained(string pathOrId, PretrainedOptions? options = null) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertLMHeadModel(c));

        /// <summary>FromPretrained through <paramref name="locator"/> (its Hub client and resolvers).</summary>
        public static BertLMHeadModel FromPretrained(string pathOrId, PretrainedOptions? options, ModelLocator locator) =>
            PretrainedLoading.Load(pathOrId, options, (c, _) => new BertLMHeadModel(c), locator);

        /// <summary>FromPretrained with the Hub download (if any) done asynchronously and cancellable.</summary>
        public static Task<BertLMHeadModel> FromPretrainedAsync(string pathOrId, PretrainedOptions? options = null, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertLMHeadModel(c), null, ct);

        /// <summary>FromPretrainedAsync through <paramref name="locator"/>.</summary>
        public static Task<BertLMHeadModel> FromPretrainedAsync(string pathOrId, PretrainedOptions? options, ModelLocator locator, CancellationToken ct = default) =>
            PretrainedLoading.LoadAsync(pathOrId, options, (c, _) => new BertLMHeadModel(c), locator, ct);
    }
}
