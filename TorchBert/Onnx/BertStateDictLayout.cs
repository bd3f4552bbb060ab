using TorchBert.Configuration;

namespace TorchBert.Onnx;

/// <summary>HF <c>BertModel</c>'s state-dict keys and shapes for a config (Linear weights are [out, in]).</summary>
internal static class BertStateDictLayout
{
    public static IEnumerable<(string Key, long[] Shape)> Keys(BertConfig c, bool pooler)
    {
        long h = c.HiddenSize, i = c.IntermediateSize;
        yield return ("embeddings.word_embeddings.weight", [c.VocabSize, h]);
        yield return ("embeddings.position_embeddings.weight", [c.MaxPositionEmbeddings, h]);
        yield return ("embeddings.token_type_embeddings.weight", [c.TypeVocabSize, h]);
        yield return ("embeddings.LayerNorm.weight", [h]);
        yield return ("embeddings.LayerNorm.bias", [h]);
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            var p = $"encoder.layer.{l}.";
            foreach (var name in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                yield return ($"{p}{name}.weight", [h, h]);
                yield return ($"{p}{name}.bias", [h]);
            }
            yield return ($"{p}attention.output.LayerNorm.weight", [h]);
            yield return ($"{p}attention.output.LayerNorm.bias", [h]);
            yield return ($"{p}intermediate.dense.weight", [i, h]);
            yield return ($"{p}intermediate.dense.bias", [i]);
            yield return ($"{p}output.dense.weight", [h, i]);
            yield return ($"{p}output.dense.bias", [h]);
            yield return ($"{p}output.LayerNorm.weight", [h]);
            yield return ($"{p}output.LayerNorm.bias", [h]);
        }
        if (pooler)
        {
            yield return ("pooler.dense.weight", [h, h]);
            yield return ("pooler.dense.bias", [h]);
        }
    }

    /// <summary>The LayerNorm weights, whose graphs carry layer_norm_eps.</summary>
    public static IEnumerable<string> LayerNormWeights(int layers) =>
        new[] { "embeddings.LayerNorm.weight" }.Concat(Enumerable.Range(0, layers).SelectMany(l => new[]
            { $"encoder.layer.{l}.attention.output.LayerNorm.weight", $"encoder.layer.{l}.output.LayerNorm.weight" }));
}
