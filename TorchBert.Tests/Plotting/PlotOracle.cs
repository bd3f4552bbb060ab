using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Plotting;

/// <summary>
/// Independent values for the plot tests: rows of tiny-bert-mlm's tensors read by the naive reference reader, and
/// cosine / dot / softmax computed here with plain loops (no TorchBert code).
/// </summary>
public static class PlotOracle
{
    public const string Fixture = "tiny-bert-mlm";
    public static string Dir => Fixtures.Dir(Fixture);

    private static readonly Lazy<Dictionary<string, Tensor>> Weights =
        new(() => ReferenceSafeTensors.Read(Path.Combine(Dir, "model.safetensors")));
    private static readonly Lazy<Dictionary<string, Tensor>> Expected = new(() => Fixtures.Expected(Fixture));

    /// <summary>Rows <paramref name="ids"/> of checkpoint tensor <paramref name="key"/> (2-D).</summary>
    public static float[][] WeightRows(string key, IEnumerable<long> ids) => ids.Select(i => Weights.Value[key][i].data<float>().ToArray()).ToArray();

    /// <summary>expected.safetensors tensor <paramref name="key"/>, batch row <paramref name="b"/>, first <paramref name="t"/> tokens: (t, H).</summary>
    public static float[][] ExpectedRows(string key, int b, int t) =>
        Enumerable.Range(0, t).Select(j => Expected.Value[key][b, j].data<float>().ToArray()).ToArray();

    /// <summary>The recorded attention probabilities of one head: (t, t) over the first t tokens of batch row b.</summary>
    public static float[][] ExpectedProbs(int layer, int b, int head, int t) =>
        Enumerable.Range(0, t).Select(q => Expected.Value[$"layer.{layer}.attention.probs"][b, head, q].data<float>().Take(t).ToArray()).ToArray();

    public static long[] ExpectedIds(string key, int b) => Expected.Value[key][b].data<long>().ToArray();

    public static double[][] Dot(float[][] v) =>
        v.Select(a => v.Select(b => a.Zip(b, (x, y) => (double)x * y).Sum()).ToArray()).ToArray();

    public static double[][] Cosine(float[][] v)
    {
        var d = Dot(v);
        return d.Select((row, i) => row.Select((x, j) => x / Math.Sqrt(d[i][i] * d[j][j])).ToArray()).ToArray();
    }

    /// <summary>softmax over each row of (k·E)(k·E)ᵀ.</summary>
    public static double[][] Softmax(float[][] v, double k)
    {
        var scaled = v.Select(r => r.Select(x => (float)(x * k)).ToArray()).ToArray();
        return Dot(scaled).Select(row =>
        {
            var e = row.Select(x => Math.Exp(x - row.Max())).ToArray();
            return e.Select(x => x / e.Sum()).ToArray();
        }).ToArray();
    }

    public static void Close(IReadOnlyList<IReadOnlyList<double>> actual, IReadOnlyList<IReadOnlyList<double>> expected, double tol, string what)
    {
        actual.Count.Should().Be(expected.Count, $"rows of {what}");
        double worst = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            actual[i].Count.Should().Be(expected[i].Count, $"columns of {what} row {i}");
            for (int j = 0; j < expected[i].Count; j++) worst = Math.Max(worst, Math.Abs(actual[i][j] - expected[i][j]));
        }
        worst.Should().BeLessThanOrEqualTo(tol, $"max |diff| of {what}");
    }

    public static IReadOnlyList<IReadOnlyList<double>> AsDouble(float[][] m) => m.Select(r => (IReadOnlyList<double>)r.Select(x => (double)x).ToArray()).ToArray();
    public static IReadOnlyList<IReadOnlyList<double>> AsList(double[][] m) => m.Select(r => (IReadOnlyList<double>)r).ToArray();
}
