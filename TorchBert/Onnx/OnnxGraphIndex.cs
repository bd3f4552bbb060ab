using System.Globalization;

namespace TorchBert.Onnx;

/// <summary>
/// Lookups over a parsed graph: which node produces a value, which nodes consume it, and which values are constants
/// (initializers, or outputs of Constant nodes with a tensor, float(s) or int(s) attribute).
/// </summary>
internal sealed class OnnxGraphIndex
{
    private readonly Dictionary<string, OnnxNode> _producers = new();
    private readonly Dictionary<string, List<OnnxNode>> _consumers = new();
    private readonly Dictionary<string, OnnxNode> _constantNodes = new();

    public OnnxGraphIndex(OnnxModel model)
    {
        Model = model;
        foreach (var t in model.Graph.Initializers) Initializers[t.Name] = t; // the last one wins, as in ONNX Runtime
        foreach (var node in model.Graph.Nodes)
        {
            foreach (var output in node.Outputs) if (output.Length > 0) _producers[output] = node;
            foreach (var input in node.Inputs)
            {
                if (input.Length == 0) continue;
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = new();
                list.Add(node);
            }
            if (node.OpType == "Constant" && node.Outputs.Count == 1) _constantNodes[node.Outputs[0]] = node;
        }
    }

    public OnnxModel Model { get; }
    public Dictionary<string, OnnxTensorInfo> Initializers { get; } = new();

    public OnnxNode? Producer(string value) => _producers.GetValueOrDefault(value);

    public IReadOnlyList<OnnxNode> Consumers(string value) =>
        _consumers.TryGetValue(value, out var list) ? list : [];

    /// <summary>The tensor behind a constant value: an initializer or a Constant node's <c>value</c> attribute.</summary>
    public OnnxTensorInfo? ConstantTensor(string value) =>
        Initializers.GetValueOrDefault(value) ?? _constantNodes.GetValueOrDefault(value)?.Attribute("value")?.T;

    public bool IsConstant(string value) => Initializers.ContainsKey(value) || _constantNodes.ContainsKey(value);

    /// <summary>A constant's values as doubles (at most <paramref name="max"/> of them), or null if not constant.</summary>
    public double[]? Values(string value, int max = 64)
    {
        if (ConstantTensor(value) is { } t)
        {
            if (t.NumElements > max || OnnxSchema.Element(t.DataType) is null) return null;
            var values = OnnxTensorData.Doubles(Model, t);
            return t.DataType is OnnxSchema.Float or OnnxSchema.Float16 or OnnxSchema.BFloat16
                ? values.Select(v => Exact((float)v)).ToArray() : values;
        }
        if (_constantNodes.GetValueOrDefault(value) is not { } node) return null;
        foreach (var a in node.Attributes)
        {
            switch (a.Name)
            {
                case "value_float": return [Exact(a.F)];
                case "value_floats": return a.Floats.Select(Exact).ToArray();
                case "value_int": return [a.I];
                case "value_ints": return a.Ints.Select(i => (double)i).ToArray();
            }
        }
        return null;
    }

    /// <summary>The shortest decimal that round-trips a float (so 1e-12f reads as 1e-12, not 9.9999999960041972e-13).</summary>
    public static double Exact(float f) => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>The other input of a two-input node, given one of them.</summary>
    public static string? Other(OnnxNode node, string input) =>
        node.Inputs.Count != 2 ? null : node.Inputs[0] == input ? node.Inputs[1] : node.Inputs[1] == input ? node.Inputs[0] : null;

    /// <summary>
    /// Nodes reachable forward from <paramref name="value"/>, breadth first, not passing through nodes that
    /// <paramref name="stop"/> accepts (they are included), at most <paramref name="limit"/> nodes.
    /// </summary>
    public List<OnnxNode> Downstream(string value, Func<OnnxNode, bool> stop, int limit = 64)
    {
        var seen = new HashSet<OnnxNode>();
        var queue = new Queue<string>([value]);
        var result = new List<OnnxNode>();
        while (queue.Count > 0 && result.Count < limit)
        {
            foreach (var node in Consumers(queue.Dequeue()))
            {
                if (!seen.Add(node)) continue;
                result.Add(node);
                if (stop(node)) continue;
                foreach (var o in node.Outputs) queue.Enqueue(o);
            }
        }
        return result;
    }
}
