using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertForTokenClassification</c> (modeling_bert.py, transformers 4.4x): BertModel without pooler under
/// <c>bert</c>, then dropout and a (H → num_labels) <c>classifier</c> on every token.
/// </summary>
public sealed class BertForTokenClassification : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly Dropout dropout;
    private readonly Linear classifier;

    /// <summary>A new model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertForTokenClassification(BertConfig config) : base(nameof(BertForTokenClassification), config.Validate())
    {
        bert = new BertModel(config, addPoolingLayer: false, initWeights: false);
        dropout = nn.Dropout(config.ClassifierDropout ?? config.HiddenDropoutProb);
        classifier = ModuleFactory.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder without pooler (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The per-token classifier (<c>classifier</c>).</summary>
    public Linear Classifier => classifier;

    /// <summary>HF: <c>_keys_to_ignore_on_load_unexpected = [r"pooler"]</c>.</summary>
    public override LoadingPolicy LoadingPolicy { get; } = new() { KeysToIgnoreOnLoadUnexpected = LoadingPolicy.IgnorePooler };

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; (B, T, num_labels) logits.</summary>
    /// <param name="labels">
    /// (B, T) class indices; -100 is ignored. HF does not mask by attention_mask: label padding -100 to leave it out.
    /// </param>
    public TokenClassifierOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? labels = null, bool outputHiddenStates = false, bool outputAttentions = false,
        bool skipPadding = false)
    {
        if (labels is not null) HeadLosses.ClassIndices(labels, "labels", [inputIds.shape], Config.NumLabels, "num_labels");
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions, skipPadding);
        var logits = classifier.forward(dropout.forward(o.LastHiddenState));                     // (B, T, num_labels)
        var loss = labels is null ? null : HeadLosses.CrossEntropy(logits, labels);
        return new TokenClassifierOutput(logits, loss, o.HiddenStates, o.Attentions).MoveOut<TokenClassifierOutput>();
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this, "labels");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.Labels, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
