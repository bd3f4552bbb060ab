using TorchBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Analysis;

/// <summary>
/// Token × token matrices of one sequence (the course's "how much does a token contribute to every other token?"):
/// from plain vectors, or from a model's word embeddings or hidden states. Results are plain arrays.
/// </summary>
/// <remarks>Not <see cref="Pipelines.Similarity"/>, which compares sentence embeddings.</remarks>
public static class TokenSimilarity
{
    /// <summary>n × n matrix of <paramref name="metric"/> over the rows of <paramref name="vectors"/> (in float64).</summary>
    public static double[][] Matrix(IReadOnlyList<float[]> vectors, SimilarityMetric metric)
    {
        if (vectors.Count == 0) throw new ArgumentException("no vectors to compare");
        var dim = vectors[0].Length;
        for (int i = 0; i < vectors.Count; i++)
            if (vectors[i].Length != dim) throw new ArgumentException($"vector {i} has {vectors[i].Length} values, vector 0 has {dim}");
        int n = vectors.Count;
        var dot = new double[n][];
        for (int i = 0; i < n; i++)
        {
            dot[i] = new double[n];
            for (int j = 0; j < n; j++) dot[i][j] = Dot(vectors[i], vectors[j]);
        }
        switch (metric.Kind)
        {
            case SimilarityKind.Dot:
                return dot;
            case SimilarityKind.Cosine:
                var norm = Enumerable.Range(0, n).Select(i => Math.Sqrt(dot[i][i])).ToArray();
                return dot.Select((row, i) => row.Select((d, j) => norm[i] == 0 || norm[j] == 0 ? 0 : d / (norm[i] * norm[j])).ToArray()).ToArray();
            default:
                // softmax(K·E·(K·E)ᵀ) = softmax(K²·E·Eᵀ), row by row, max-subtracted as torch.softmax.
                var k2 = metric.Scale * metric.Scale;
                return dot.Select(row =>
                {
                    var max = row.Max() * k2;
                    var e = row.Select(d => Math.Exp(d * k2 - max)).ToArray();
                    var sum = e.Sum();
                    return e.Select(v => v / sum).ToArray();
                }).ToArray();
        }
    }

    /// <summary>
    /// The vectors of each token of <paramref name="input"/> (tokens × hidden): the word embedding rows
    /// (<c>model.embeddings.word_embeddings(input_ids)</c>), or HF <c>hidden_states[n]</c> of one forward pass.
    /// </summary>
    public static float[][] Vectors(BertModel model, TokenInput input, VectorSource source)
    {
        input.CheckFits(model.Config);
        var layers = model.Config.NumHiddenLayers;
        if (source.HiddenLayer is { } n && (n < 0 || n > layers))
            throw new ArgumentException($"hidden:{n} is out of range: the model has hidden_states[0..{layers}] ({layers} layers; 0 = embeddings output)");
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var ids = tensor(input.InputIds, [1, input.Length], device: model.Device);                // (1, T)
        Tensor vectors;
        if (source.HiddenLayer is not { } layer)
            vectors = model.Embeddings.WordEmbeddingWeight.index_select(0, ids[0]);                // (T, H)
        else
        {
            var types = tensor(input.TokenTypeIds, [1, input.Length], device: model.Device);       // (1, T)
            using var output = model.forward(ids, tokenTypeIds: types, outputHiddenStates: true);
            vectors = output.HiddenStates![layer][0].clone();                                      // (T, H)
        }
        return Rows(vectors);
    }

    /// <summary>The token × token matrix of <paramref name="input"/>, labelled with its tokens.</summary>
    public static LabelledMatrix Compute(BertModel model, TokenInput input, VectorSource source, SimilarityMetric metric)
    {
        var values = Matrix(Vectors(model, input, source), metric);
        return new LabelledMatrix($"{metric.Describe()}, E = {source.Describe()}", input.Tokens, input.Tokens, values, metric.ValueKind);
    }

    /// <summary>
    /// Cosine similarity of the absolute position embeddings <c>position_embeddings.weight[0..first)</c>
    /// (the course's "Investigating the Positional Embeddings"); all rows when <paramref name="first"/> is null.
    /// </summary>
    public static LabelledMatrix Positions(BertModel model, int? first = null)
    {
        var config = model.Config;
        if (config.PositionEmbeddingType != Configuration.PositionEmbeddingType.Absolute)
            throw new ArgumentException($"the model uses {Configuration.BertConfig.PosName(config.PositionEmbeddingType)} position embeddings: it has no absolute position embeddings to compare");
        var n = first ?? config.MaxPositionEmbeddings;
        if (n < 1 || n > config.MaxPositionEmbeddings)
            throw new ArgumentException($"first {n} is out of range: the model has {config.MaxPositionEmbeddings} positions (max_position_embeddings)");
        float[][] rows;
        using (var scope = NewDisposeScope())
        using (inference_mode())
        {
            var weight = model.Embeddings.named_parameters().First(p => p.name == "position_embeddings.weight").parameter; // (P, H)
            rows = Rows(weight.narrow(0, 0, n));
        }
        var labels = Enumerable.Range(0, n).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new LabelledMatrix($"cosine similarity of the position embeddings 0..{n - 1}", labels, labels,
            Matrix(rows, SimilarityMetric.Cosine), ValueKind.Similarity);
    }

    private static float[][] Rows(Tensor matrix)
    {
        var m = matrix.to(ScalarType.Float32).cpu().contiguous();                                 // (T, H)
        int t = (int)m.shape[0], h = (int)m.shape[1];
        var all = m.data<float>().ToArray();
        return Enumerable.Range(0, t).Select(i => all.AsSpan(i * h, h).ToArray()).ToArray();
    }

    private static double Dot(float[] a, float[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }
}
