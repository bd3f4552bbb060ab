using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertForMultipleChoice</c> (modeling_bert.py, transformers 4.4x): the (B, C, T) choices are flattened
/// to (B·C, T), run through BertModel with pooler under <c>bert</c>, then dropout and a (H → 1) <c>classifier</c> scores
/// each choice; the scores are viewed as (B, C).
/// </summary>
public sealed class BertForMultipleChoice : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    /// <summary>A new model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertForMultipleChoice(BertConfig config) : base(nameof(BertForMultipleChoice), config.Validate())
    {
        bert = new BertModel(config, addPoolingLayer: true, initWeights: false);
        dropout = nn.Dropout(config.ClassifierDropout ?? config.HiddenDropoutProb);
        classifier = ModuleFactory.Linear(config.HiddenSize, 1);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The choice scorer (<c>classifier</c>, hidden → 1).</summary>
    public Linear Classifier => classifier;

    /// <summary>A missing pooler (e.g. from an MLM checkpoint) is initialised, as HF does.</summary>
    public override LoadingPolicy LoadingPolicy { get; } = new() { NewlyInitializedIfMissing = LoadingPolicy.InitPoolerIfMissing };

    /// <param name="inputIds">(B, C, T): C choices per example, each a token sequence of length T.</param>
    /// <param name="attentionMask">(B, C, T) or null.</param>
    /// <param name="tokenTypeIds">(B, C, T) or null.</param>
    /// <param name="positionIds">(B, C, T) or null.</param>
    /// <param name="labels">(B) index of the right choice, in [0, C) (-100 ignored).</param>
    /// <returns>(B, C) logits; hidden states and attentions are over the flattened (B·C, T) batch, as in HF.</returns>
    public MultipleChoiceModelOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? labels = null, bool outputHiddenStates = false, bool outputAttentions = false,
        bool skipPadding = false)
    {
        if (inputIds.dim() != 3)
            throw new ArgumentException($"input_ids must be 3-D (batch, choices, sequence) for multiple choice, got shape {InputValidation.Shape(inputIds)}", nameof(inputIds));
        foreach (var (t, name) in new[] { (attentionMask, "attention_mask"), (tokenTypeIds, "token_type_ids"), (positionIds, "position_ids") })
            if (t is not null && !t.shape.SequenceEqual(inputIds.shape))
                throw new ArgumentException($"{name} has shape {InputValidation.Shape(t)} but input_ids has shape {InputValidation.Shape(inputIds)}", name);
        long batch = inputIds.shape[0], choices = inputIds.shape[1], length = inputIds.shape[2];
        if (labels is not null) HeadLosses.ClassIndices(labels, "labels", [[batch], [batch, 1]], choices, "num_choices");

        using var scope = NewDisposeScope();
        Tensor? Flat(Tensor? t) => t?.reshape(-1, length);                                     // (B·C, T)
        var o = bert.forward(Flat(inputIds)!, Flat(attentionMask), Flat(tokenTypeIds), Flat(positionIds),
            outputHiddenStates, outputAttentions, skipPadding);
        var logits = classifier.forward(dropout.forward(o.PoolerOutput!));                       // (B·C, 1)
        var reshaped = logits.view(-1, choices);                                                // (B, C)
        var loss = labels is null ? null : HeadLosses.CrossEntropy(reshaped, labels);
        return new MultipleChoiceModelOutput(reshaped, loss, o.HiddenStates, o.Attentions).MoveOut<MultipleChoiceModelOutput>();
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this, "labels");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.Labels, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
