using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertForSequenceClassification</c> (modeling_bert.py, transformers 4.4x): BertModel with pooler under
/// <c>bert</c>, then dropout and a (H → num_labels) <c>classifier</c> on the pooled [CLS] vector.
/// </summary>
public sealed class BertForSequenceClassification : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    /// <summary>A new model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertForSequenceClassification(BertConfig config) : base(nameof(BertForSequenceClassification), config.Validate())
    {
        bert = new BertModel(config, addPoolingLayer: true, initWeights: false);
        dropout = nn.Dropout(config.ClassifierDropout ?? config.HiddenDropoutProb);
        classifier = ModuleFactory.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The classifier over the pooled output (<c>classifier</c>).</summary>
    public Linear Classifier => classifier;

    /// <summary>A missing pooler (e.g. from an MLM checkpoint) is initialised, as HF does.</summary>
    public override LoadingPolicy LoadingPolicy { get; } = new() { NewlyInitializedIfMissing = LoadingPolicy.InitPoolerIfMissing };

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; (B, num_labels) logits, and HF's loss when labels are given.</summary>
    /// <param name="labels">
    /// (B) class indices for single-label classification (-100 ignored); (B) or (B, 1) floats for regression
    /// (num_labels == 1); (B, num_labels) 0/1 floats for multi-label. Which one: <see cref="BertConfig.ProblemType"/>,
    /// else inferred as HF does.
    /// </param>
    public SequenceClassifierOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? labels = null, bool outputHiddenStates = false, bool outputAttentions = false,
        bool skipPadding = false)
    {
        var problemType = labels is null ? null : HeadLosses.ProblemType(Config, labels);
        if (labels is not null) HeadLosses.CheckSequenceLabels(problemType!, labels, inputIds.shape[0], Config.NumLabels);
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions, skipPadding);
        var logits = classifier.forward(dropout.forward(o.PoolerOutput!));                       // (B, num_labels)
        var loss = labels is null ? null : HeadLosses.SequenceClassification(problemType!, logits, labels, Config.NumLabels);
        return new SequenceClassifierOutput(logits, loss, o.HiddenStates, o.Attentions).MoveOut<SequenceClassifierOutput>();
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this, "labels");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.Labels, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
