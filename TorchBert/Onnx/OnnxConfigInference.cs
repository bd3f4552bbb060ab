using System.Globalization;
using TorchBert.Configuration;

namespace TorchBert.Onnx;

/// <summary>Reads the config values that only the graph's operators carry: layer_norm_eps, hidden_act, heads.</summary>
internal static class OnnxConfigInference
{
    /// <summary>
    /// epsilon of the LayerNormalization using <paramref name="weight"/>, or, for the decomposed form
    /// <c>(x - mean) / Sqrt(ReduceMean((x - mean)^2) + eps) * weight + bias</c>, the constant added before Sqrt.
    /// </summary>
    public static (double Eps, string Evidence)? LayerNormEps(OnnxGraphIndex g, string weight)
    {
        foreach (var node in g.Consumers(weight))
        {
            if (node.OpType.EndsWith("LayerNormalization", StringComparison.Ordinal))
            {
                var eps = node.Attribute("epsilon") is { } a ? OnnxGraphIndex.Exact(a.F) : 1e-5;
                return (eps, $"{node.OpType} '{node.Name}' epsilon");
            }
            if (node.OpType != "Mul" || OnnxGraphIndex.Other(node, weight) is not { } normalized) continue;
            // Walk up from the normalized value to the Add feeding a Sqrt.
            var queue = new Queue<(string Value, int Depth)>([(normalized, 0)]);
            while (queue.Count > 0)
            {
                var (value, depth) = queue.Dequeue();
                if (depth > 4 || g.Producer(value) is not { } p) continue;
                if (p.OpType == "Sqrt" && p.Inputs.Count == 1 && g.Producer(p.Inputs[0]) is { OpType: "Add" } add)
                {
                    foreach (var input in add.Inputs)
                        if (g.Values(input, max: 1) is [var eps])
                            return (eps, $"constant {eps.ToString("R", CultureInfo.InvariantCulture)} of Add '{add.Name}' before Sqrt '{p.Name}'");
                }
                foreach (var input in p.Inputs) queue.Enqueue((input, depth + 1));
            }
        }
        return null;
    }

    /// <summary>The activation between intermediate.dense's output (<paramref name="value"/>) and output.dense.</summary>
    public static (HiddenAct Act, string Evidence)? Activation(OnnxGraphIndex g, string value)
    {
        var nodes = g.Downstream(value, n => n.OpType is "MatMul" or "Gemm");
        string Where(OnnxNode n) => $"{n.OpType} '{n.Name}' after intermediate.dense";
        foreach (var n in nodes)
        {
            switch (n.OpType)
            {
                case "Gelu" when n.Domain is "" or "ai.onnx":
                    return n.Attribute("approximate")?.S == "tanh" ? (HiddenAct.GeluNew, Where(n)) : (HiddenAct.Gelu, Where(n));
                case "Erf" or "Gelu" or "BiasGelu": return (HiddenAct.Gelu, Where(n));
                case "FastGelu": return (HiddenAct.GeluNew, Where(n) + " (tanh approximation)");
                case "Tanh": return (HiddenAct.GeluNew, Where(n) + " (tanh approximation; gelu_pytorch_tanh computes the same)");
                case "Relu": return (HiddenAct.Relu, Where(n));
                case "Sigmoid": return (HiddenAct.Silu, Where(n));
            }
        }
        return null;
    }

    /// <summary>
    /// num_attention_heads from the Reshape splitting a projection (<paramref name="value"/>) into heads: its shape
    /// (a constant, or a Concat of constants and computed sizes) is [batch, seq, heads, head_size] with
    /// heads * head_size = hidden (head_size may be -1).
    /// </summary>
    public static (int Heads, string Evidence)? Heads(OnnxGraphIndex g, string value, int hidden)
    {
        foreach (var reshape in g.Downstream(value, n => n.OpType is "Reshape" or "MatMul", limit: 16))
        {
            if (reshape.OpType != "Reshape" || reshape.Inputs.Count < 2) continue;
            var shape = ShapeValues(g, reshape.Inputs[1]);
            if (shape is not [_, _, { } heads, { } size] || heads <= 0 || hidden % heads != 0) continue;
            if (size != -1 && heads * size != hidden) continue;
            var text = string.Join(", ", shape.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "?"));
            return ((int)heads, $"graph: Reshape '{reshape.Name}' to [{text}]");
        }
        return null;
    }

    /// <summary>A shape input's entries: known constants, or null where computed at run time.</summary>
    private static long?[]? ShapeValues(OnnxGraphIndex g, string shape)
    {
        if (g.Values(shape, max: 8) is { } constant) return constant.Select(v => (long?)(long)v).ToArray();
        if (g.Producer(shape) is not { OpType: "Concat" } concat) return null;
        var result = new List<long?>();
        foreach (var input in concat.Inputs)
        {
            if (g.Values(input, max: 8) is { } part) result.AddRange(part.Select(v => (long?)(long)v));
            else result.Add(null); // a computed size (Unsqueeze of a Gather of Shape): one entry
        }
        return result.ToArray();
    }
}
