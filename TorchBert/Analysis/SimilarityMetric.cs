using System.Globalization;

namespace TorchBert.Analysis;

/// <summary>What <see cref="SimilarityMetric"/> computes from the token vectors E (tokens × hidden).</summary>
public enum SimilarityKind
{
    /// <summary>cos(eᵢ, eⱼ).</summary>
    Cosine,
    /// <summary>E·Eᵀ, the raw dot products.</summary>
    Dot,
    /// <summary>softmax(K·E·(K·E)ᵀ) row by row: how much token i "attends" to each token j.</summary>
    Softmax,
}

/// <summary>
/// A token × token metric, as the course uses them: <c>cosine</c>, <c>dot</c> (E·Eᵀ), <c>softmax</c> (softmax(E·Eᵀ),
/// row-wise) and <c>softmax:K</c> (softmax(K·E·(K·E)ᵀ), row-wise: K sharpens the rows).
/// </summary>
public sealed record SimilarityMetric(SimilarityKind Kind, double Scale = 1)
{
    /// <summary>Cosine similarity of the two vectors (−1 … 1).</summary>
    public static SimilarityMetric Cosine { get; } = new(SimilarityKind.Cosine);
    /// <summary>Dot product of the two vectors (equals cosine for normalized embeddings).</summary>
    public static SimilarityMetric Dot { get; } = new(SimilarityKind.Dot);
    /// <summary>Row-wise softmax of the dot products times <paramref name="scale"/> (each row sums to 1).</summary>
    public static SimilarityMetric Softmax(double scale = 1) => new(SimilarityKind.Softmax, scale);

    /// <summary><c>cosine</c> | <c>dot</c> | <c>softmax</c> | <c>softmax:K</c> (K a positive number).</summary>
    public static SimilarityMetric Parse(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        if (s == "cosine") return Cosine;
        if (s == "dot") return Dot;
        if (s == "softmax") return Softmax();
        if (s.StartsWith("softmax:", StringComparison.Ordinal))
        {
            var k = s["softmax:".Length..];
            if (double.TryParse(k, NumberStyles.Float, CultureInfo.InvariantCulture, out var scale) && scale > 0 && double.IsFinite(scale))
                return Softmax(scale);
            throw new ArgumentException($"metric '{text}': K in softmax:K must be a positive number, got '{k}'");
        }
        throw new ArgumentException($"unknown metric '{text}': use cosine, dot, softmax or softmax:K (e.g. softmax:10)");
    }

    /// <summary>The name <see cref="Parse"/> reads back.</summary>
    public override string ToString() => Kind switch
    {
        SimilarityKind.Cosine => "cosine",
        SimilarityKind.Dot => "dot",
        _ => Scale == 1 ? "softmax" : $"softmax:{Scale.ToString(CultureInfo.InvariantCulture)}",
    };

    /// <summary>A title naming the formula.</summary>
    public string Describe() => Kind switch
    {
        SimilarityKind.Cosine => "cosine similarity",
        SimilarityKind.Dot => "dot product E·Eᵀ",
        _ when Scale == 1 => "softmax(E·Eᵀ) by row",
        _ => $"softmax({Num(Scale)}·E·({Num(Scale)}·E)ᵀ) by row",
    };

    /// <summary>The colour scale the values call for.</summary>
    public ValueKind ValueKind => Kind switch
    {
        SimilarityKind.Cosine => ValueKind.Similarity,
        SimilarityKind.Dot => ValueKind.Signed,
        _ => ValueKind.Probability,
    };

    private static string Num(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>Which vectors a token similarity uses: the word embeddings alone, or the hidden states after a layer.</summary>
public sealed record VectorSource(int? HiddenLayer)
{
    /// <summary><c>word_embeddings(input_ids)</c>: no position or token type embedding, no LayerNorm (as the course does).</summary>
    public static VectorSource WordEmbeddings { get; } = new((int?)null);

    /// <summary>HF <c>hidden_states[n]</c>: 0 = the embeddings module's output, n ≥ 1 = the output of encoder layer n - 1.</summary>
    public static VectorSource Hidden(int n) => new(n);

    /// <summary><c>embeddings</c> | <c>hidden:N</c>.</summary>
    public static VectorSource Parse(string text)
    {
        var s = text.Trim().ToLowerInvariant();
        if (s == "embeddings") return WordEmbeddings;
        if (s.StartsWith("hidden:", StringComparison.Ordinal))
        {
            var n = s["hidden:".Length..];
            if (int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var layer)) return Hidden(layer);
            throw new ArgumentException($"source '{text}': N in hidden:N must be a layer number (0 = embeddings output), got '{n}'");
        }
        throw new ArgumentException($"unknown source '{text}': use embeddings or hidden:N (N = 0 for the embeddings output, 1..layers)");
    }

    /// <inheritdoc/>
    public override string ToString() => HiddenLayer is { } n ? $"hidden:{n}" : "embeddings";

    /// <summary>Words for a title.</summary>
    public string Describe() => HiddenLayer is { } n ? $"hidden_states[{n}]" : "word embeddings";
}
