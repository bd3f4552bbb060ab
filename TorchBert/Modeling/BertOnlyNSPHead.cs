using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys.

/// <summary>Port of HF <c>BertOnlyNSPHead</c>: <c>seq_relationship</c> (H → 2) on the pooled output, under the key <c>cls</c>.</summary>
public sealed class BertOnlyNSPHead : nn.Module<Tensor, Tensor>
{
    private readonly Linear seq_relationship;

    /// <summary>The next-sentence head, from <paramref name="config"/>.</summary>
    public BertOnlyNSPHead(BertConfig config) : base(nameof(BertOnlyNSPHead))
    {
        seq_relationship = ModuleFactory.Linear(config.HiddenSize, 2);
        RegisterComponents();
    }

    /// <summary>The is-next classifier (<c>seq_relationship</c>, hidden → 2).</summary>
    public Linear SeqRelationship => seq_relationship;

    /// <summary>(B, H) pooled → (B, 2).</summary>
    public override Tensor forward(Tensor pooledOutput) => seq_relationship.forward(pooledOutput);
}

/// <summary>
/// Port of HF <c>BertPreTrainingHeads</c>: the MLM head <c>predictions</c> on every token and the NSP head
/// <c>seq_relationship</c> on the pooled output, under the key <c>cls</c>.
/// </summary>
public sealed class BertPreTrainingHeads : nn.Module
{
    private readonly BertLMPredictionHead predictions;
    private readonly Linear seq_relationship;

    /// <summary>The pre-training heads; <paramref name="wordEmbeddings"/> supplies the tied decoder weight (null: an own weight).</summary>
    public BertPreTrainingHeads(BertConfig config, Func<Parameter>? wordEmbeddings) : base(nameof(BertPreTrainingHeads))
    {
        predictions = new BertLMPredictionHead(config, wordEmbeddings);
        seq_relationship = ModuleFactory.Linear(config.HiddenSize, 2);
        RegisterComponents();
    }

    /// <summary>The masked-LM prediction head (<c>predictions</c>).</summary>
    public BertLMPredictionHead Predictions => predictions;
    /// <summary>The is-next classifier (<c>seq_relationship</c>, hidden → 2).</summary>
    public Linear SeqRelationship => seq_relationship;

    /// <summary>(B, T, H), (B, H) → (B, T, vocab) prediction scores, (B, 2) NSP scores.</summary>
    public (Tensor PredictionScores, Tensor SeqRelationshipScore) forward(Tensor sequenceOutput, Tensor pooledOutput) =>
        (predictions.forward(sequenceOutput), seq_relationship.forward(pooledOutput));
}
