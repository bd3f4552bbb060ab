using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>
/// Port of HF <c>BertForQuestionAnswering</c> (modeling_bert.py, transformers 4.4x): BertModel without pooler under
/// <c>bert</c>, then <c>qa_outputs</c> (H → num_labels = 2) split into span-start and span-end scores. No dropout, as in HF.
/// </summary>
public sealed class BertForQuestionAnswering : BertPreTrainedModel
{
    private readonly BertModel bert;
    private readonly Linear qa_outputs;

    /// <summary>A new model (random weights) for <paramref name="config"/>; load weights with <c>FromPretrained</c> or a checkpoint.</summary>
    public BertForQuestionAnswering(BertConfig config) : base(nameof(BertForQuestionAnswering), config.Validate())
    {
        if (config.NumLabels != 2)
            throw new BertConfigException($"BertForQuestionAnswering needs num_labels 2 (start and end scores), got {config.NumLabels}");
        bert = new BertModel(config, addPoolingLayer: false, initWeights: false);
        qa_outputs = ModuleFactory.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
        if (!SkipInit) InitWeights();
    }

    /// <summary>The encoder without pooler (<c>bert</c>).</summary>
    public BertModel Bert => bert;
    /// <summary>The span head (<c>qa_outputs</c>, hidden → start/end logits).</summary>
    public Linear QaOutputs => qa_outputs;

    /// <summary>HF: <c>_keys_to_ignore_on_load_unexpected = [r"pooler"]</c>.</summary>
    public override LoadingPolicy LoadingPolicy { get; } = new() { KeysToIgnoreOnLoadUnexpected = LoadingPolicy.IgnorePooler };

    /// <summary>Same inputs as <see cref="BertModel.forward"/>; (B, T) start and end logits.</summary>
    /// <param name="startPositions">(B) answer-start token index; with <paramref name="endPositions"/> gives the loss.
    /// Positions ≥ T are ignored (HF clamps them to T, its ignore index); negative ones are refused.</param>
    /// <param name="endPositions">(B) answer-end token index.</param>
    public QuestionAnsweringModelOutput forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null,
        Tensor? positionIds = null, Tensor? startPositions = null, Tensor? endPositions = null,
        bool outputHiddenStates = false, bool outputAttentions = false, bool skipPadding = false)
    {
        var withLoss = startPositions is not null && endPositions is not null;
        if (startPositions is not null) HeadLosses.CheckPositions(startPositions, "start_positions", inputIds.shape[0]);
        if (endPositions is not null) HeadLosses.CheckPositions(endPositions, "end_positions", inputIds.shape[0]);
        using var scope = NewDisposeScope();
        var o = bert.forward(inputIds, attentionMask, tokenTypeIds, positionIds, outputHiddenStates, outputAttentions, skipPadding);
        var logits = qa_outputs.forward(o.LastHiddenState);                                     // (B, T, 2)
        var start = logits.select(-1, 0).contiguous();                                         // (B, T)
        var end = logits.select(-1, 1).contiguous();                                           // (B, T)
        var loss = withLoss ? HeadLosses.QuestionAnswering(start, end, startPositions!, endPositions!) : null;
        return new QuestionAnsweringModelOutput(start, end, loss, o.HiddenStates, o.Attentions).MoveOut<QuestionAnsweringModelOutput>();
    }

    /// <inheritdoc/>
    public override ModelOutput Forward(ForwardInputs inputs)
    {
        inputs.AcceptOnly(this, "start_positions", "end_positions");
        return forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.PositionIds, inputs.StartPositions, inputs.EndPositions, outputHiddenStates: inputs.OutputHiddenStates, outputAttentions: inputs.OutputAttentions);
    }
}
