using TorchBert.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

#pragma warning disable IDE1006 // Field names are HF's checkpoint keys (word_embeddings, LayerNorm, ...): RegisterComponents turns them into state-dict names.

/// <summary>
/// Port of HF <c>BertEmbeddings</c>: word + token type (+ absolute position) embeddings, then LayerNorm and dropout.
/// </summary>
public sealed class BertEmbeddings : nn.Module
{
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    private readonly LayerNorm LayerNorm; // HF keeps the TF name so checkpoints load
    private readonly Dropout dropout;
    private readonly PositionEmbeddingType positionEmbeddingType;

    /// <summary>Word, position and token-type embeddings with LayerNorm and dropout, from <paramref name="config"/>.</summary>
    public BertEmbeddings(BertConfig config) : base(nameof(BertEmbeddings))
    {
        word_embeddings = ModuleFactory.Embedding(config.VocabSize, config.HiddenSize, config.PadTokenId);
        position_embeddings = ModuleFactory.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        token_type_embeddings = ModuleFactory.Embedding(config.TypeVocabSize, config.HiddenSize);
        LayerNorm = ModuleFactory.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        positionEmbeddingType = config.PositionEmbeddingType;
        ModuleRepr.Annotate(word_embeddings, $"padding_idx={config.PadTokenId}");
        RegisterComponents();
    }

    /// <summary>The word embedding matrix (vocab, hidden); the MLM decoder is tied to it.</summary>
    /// <remarks>The module's registered parameter, not <c>word_embeddings.weight</c>: that getter wraps the native tensor anew on each call.</remarks>
    public Parameter WordEmbeddingWeight => word_embeddings.get_parameter("weight")!;

    /// <param name="inputIds">(B, T) int64.</param>
    /// <param name="tokenTypeIds">(B, T) int64; zeros when null.</param>
    /// <param name="positionIds">(B or 1, T) int64; past..past+T-1 when null.</param>
    /// <param name="pastKeyValuesLength">tokens already in a decoder's cache: new tokens continue from there (HF's <c>past_key_values_length</c>).</param>
    /// <returns>(B, T, H).</returns>
    public Tensor forward(Tensor inputIds, Tensor? tokenTypeIds = null, Tensor? positionIds = null, long pastKeyValuesLength = 0)
    {
        using var scope = NewDisposeScope();
        var seqLength = inputIds.shape[1];
        positionIds ??= KeptScalars.Arange(pastKeyValuesLength, pastKeyValuesLength + seqLength, inputIds.device).unsqueeze(0); // (1, T)
        tokenTypeIds ??= zeros_like(inputIds);

        var embeddings = word_embeddings.forward(inputIds).Plus(token_type_embeddings.forward(tokenTypeIds));
        if (positionEmbeddingType == PositionEmbeddingType.Absolute)
            embeddings = embeddings.Plus(position_embeddings.forward(positionIds));
        return dropout.forward(LayerNorm.forward(embeddings)).MoveToOuterDisposeScope();
    }
}
