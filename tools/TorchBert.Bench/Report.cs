using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchBert.Bench;

/// <summary>Prints sections and rows to stdout and keeps every number for <c>--json</c>.</summary>
public sealed class Report
{
    private readonly JsonObject _root = new();
    private JsonObject _section = new();

    public void Section(string name, string description)
    {
        Console.WriteLine();
        Console.WriteLine($"## {name}: {description}");
        _section = new JsonObject();
        _root[name] = _section;
    }

    public void Line(string text) => Console.WriteLine(text);

    public void Value(string key, JsonNode? value) => _section[key] = value;

    public void Save(string path) =>
        File.WriteAllText(path, _root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}

/// <summary>Timings of one engine on one case.</summary>
public sealed record Timing(string Engine, IReadOnlyList<double> Ms)
{
    public double Median => Stats.Median(Ms);
    public double P10 => Stats.Percentile(Ms, 10);
    public double P90 => Stats.Percentile(Ms, 90);

    /// <summary>Minor page faults of the whole process during each timed call (getrusage), when measured.</summary>
    public IReadOnlyList<double>? Faults { get; init; }

    /// <summary>Median minor page faults per call (NaN when not measured).</summary>
    public double FaultsMedian => Faults is { Count: > 0 } f ? Stats.Median(f) : double.NaN;

    public JsonObject ToJson(int batch, double flops) => new()
    {
        ["median_ms"] = Math.Round(Median, 3),
        ["p10_ms"] = Math.Round(P10, 3),
        ["p90_ms"] = Math.Round(P90, 3),
        ["seq_per_s"] = Math.Round(batch / (Median / 1000), 2),
        ["gflop_per_s"] = Math.Round(flops / (Median / 1000) / 1e9, 2),
        ["repeats"] = Ms.Count,
        ["minor_faults_per_call"] = double.IsNaN(FaultsMedian) ? null : FaultsMedian,
    };

    public string Row(int batch, double flops) =>
        $"  {Engine,-22} median {Median,9:F2} ms  p10–p90 {P10,8:F2}–{P90,-8:F2} ms  {batch / (Median / 1000),8:F1} seq/s  {flops / (Median / 1000) / 1e9,6:F1} GFLOP/s  {FaultsMedian,6:F0} faults/call  (n={Ms.Count})";
}
