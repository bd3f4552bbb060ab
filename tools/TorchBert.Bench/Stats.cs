namespace TorchBert.Bench;

/// <summary>Median and percentiles of timings (linear interpolation between order statistics, as numpy's default).</summary>
public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        if (p is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(p), p, "must be in [0, 100]");
        var sorted = values.Order().ToArray();
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);
}

/// <summary>
/// Floating-point operations of one BERT encoder forward (matmuls only; embeddings, LayerNorm, softmax and GELU are
/// below 1%): per layer, Q/K/V/output projections 4·(2·B·T·H·H), the feed-forward 2·(2·B·T·H·I), and attention
/// scores and context 2·(2·B·T·T·H).
/// </summary>
public static class Flops
{
    public static double Encoder(int batch, int length, int hidden, int intermediate, int layers)
    {
        double bt = (double)batch * length;
        double perLayer = 2 * bt * (4.0 * hidden * hidden + 2.0 * hidden * intermediate) + 4 * bt * length * hidden;
        return perLayer * layers;
    }
}
