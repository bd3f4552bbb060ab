namespace TorchBert.Analysis;

/// <summary>How a matrix's values read, which decides its colour map.</summary>
public enum ValueKind
{
    /// <summary>Similarities (cosine): a sequential colour map over the values' range.</summary>
    Similarity,
    /// <summary>Probabilities (softmax rows, attention): a sequential colour map from 0.</summary>
    Probability,
    /// <summary>Signed values around 0 (raw dot products): a diverging colour map centred on 0.</summary>
    Signed,
}

/// <summary>
/// A matrix with a label for every row and column: what a heatmap shows and <c>torchbert plot ... --json</c> prints.
/// <see cref="Values"/>[i][j] belongs to row <see cref="Rows"/>[i] and column <see cref="Columns"/>[j].
/// </summary>
public sealed record LabelledMatrix(string Title, IReadOnlyList<string> Rows, IReadOnlyList<string> Columns, double[][] Values, ValueKind Kind)
{
    /// <summary>Smallest and largest value.</summary>
    public (double Min, double Max) Range()
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var row in Values)
            foreach (var v in row) { min = Math.Min(min, v); max = Math.Max(max, v); }
        return (min, max);
    }
}

/// <summary>Several matrices shown side by side (the heads of a layer, a head over the layers).</summary>
public sealed record MatrixGrid(string Title, IReadOnlyList<LabelledMatrix> Panels);
