using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>HF <c>SequenceClassifierOutput</c> (<see cref="BertForSequenceClassification"/>).</summary>
public sealed class SequenceClassifierOutput(Tensor logits, Tensor? loss = null,
    IReadOnlyList<Tensor>? hiddenStates = null, IReadOnlyList<Tensor>? attentions = null) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>(B, num_labels) scores before softmax (or sigmoid / the regression value).</summary>
    public Tensor Logits { get; } = logits;
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() => [("logits", Logits)];
}

/// <summary>HF <c>TokenClassifierOutput</c> (<see cref="BertForTokenClassification"/>).</summary>
public sealed class TokenClassifierOutput(Tensor logits, Tensor? loss = null,
    IReadOnlyList<Tensor>? hiddenStates = null, IReadOnlyList<Tensor>? attentions = null) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>(B, T, num_labels) scores before softmax.</summary>
    public Tensor Logits { get; } = logits;
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() => [("logits", Logits)];
}

/// <summary>HF <c>QuestionAnsweringModelOutput</c> (<see cref="BertForQuestionAnswering"/>).</summary>
public sealed class QuestionAnsweringModelOutput(Tensor startLogits, Tensor endLogits, Tensor? loss = null,
    IReadOnlyList<Tensor>? hiddenStates = null, IReadOnlyList<Tensor>? attentions = null) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>(B, T) span-start scores.</summary>
    public Tensor StartLogits { get; } = startLogits;
    /// <summary>(B, T) span-end scores.</summary>
    public Tensor EndLogits { get; } = endLogits;
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() => [("start_logits", StartLogits), ("end_logits", EndLogits)];
}

/// <summary>HF <c>MultipleChoiceModelOutput</c> (<see cref="BertForMultipleChoice"/>).</summary>
public sealed class MultipleChoiceModelOutput(Tensor logits, Tensor? loss = null,
    IReadOnlyList<Tensor>? hiddenStates = null, IReadOnlyList<Tensor>? attentions = null) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>(B, num_choices) scores before softmax; hidden states and attentions are over the flattened (B·C, T) batch.</summary>
    public Tensor Logits { get; } = logits;
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() => [("logits", Logits)];
}

/// <summary>HF <c>NextSentencePredictorOutput</c> (<see cref="BertForNextSentencePrediction"/>).</summary>
public sealed class NextSentencePredictorOutput(Tensor logits, Tensor? loss = null,
    IReadOnlyList<Tensor>? hiddenStates = null, IReadOnlyList<Tensor>? attentions = null) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>(B, 2) scores: 0 = sentence B follows A, 1 = B is random.</summary>
    public Tensor Logits { get; } = logits;
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() => [("logits", Logits)];
}

/// <summary>HF <c>BertForPreTrainingOutput</c> (<see cref="BertForPreTraining"/>): loss = MLM + NSP when both label sets were given.</summary>
public sealed class BertForPreTrainingOutput(Tensor predictionLogits, Tensor seqRelationshipLogits, Tensor? loss = null,
    IReadOnlyList<Tensor>? hiddenStates = null, IReadOnlyList<Tensor>? attentions = null) : ModelOutput(loss, hiddenStates, attentions)
{
    /// <summary>(B, T, vocab) MLM scores.</summary>
    public Tensor PredictionLogits { get; } = predictionLogits;
    /// <summary>(B, 2) NSP scores.</summary>
    public Tensor SeqRelationshipLogits { get; } = seqRelationshipLogits;
    /// <inheritdoc/>
    protected override IEnumerable<(string Name, Tensor? Value)> Fields() =>
        [("prediction_logits", PredictionLogits), ("seq_relationship_logits", SeqRelationshipLogits)];
}
