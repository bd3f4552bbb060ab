using TorchBert.Checkpoints;

namespace TorchBert.Onnx;

/// <summary>Where a Linear layer's anonymous weight was found, starting from its named bias.</summary>
/// <param name="Weight">The ONNX tensor holding the weight.</param>
/// <param name="Transposed">True when it is stored [in, out] (a MatMul operand, or a Gemm with transB = 0).</param>
/// <param name="BiasNode">The Add (or Gemm) applying the bias; its output is the layer's output.</param>
internal sealed record LinearTrace(OnnxTensorInfo Weight, bool Transposed, OnnxNode BiasNode);

/// <summary>
/// Recovers Linear weights that exports leave anonymous: torch.onnx turns <c>x @ W.T + b</c> into
/// <c>Add(b, MatMul(x, W_t))</c> (either Add order) with <c>W_t</c> = W transposed and constant-folded into an
/// initializer named e.g. "927" or "onnx::MatMul_1234"; 2-D inputs become <c>Gemm(x, W, b, transB=1)</c>.
/// </summary>
internal static class OnnxLinearTracer
{
    /// <summary>Follows <paramref name="biasValue"/> (the bias as named in the graph) to its weight.</summary>
    /// <exception cref="CheckpointException">Names the bias and what was found instead.</exception>
    public static LinearTrace Trace(OnnxGraphIndex g, string biasValue, string hfBias)
    {
        var consumers = g.Consumers(biasValue);
        foreach (var node in consumers)
        {
            if (node.OpType == "Add" && OnnxGraphIndex.Other(node, biasValue) is { } other
                && g.Producer(other) is { OpType: "MatMul", Inputs.Count: 2 } matMul)
            {
                return Resolve(g, matMul, matMul.Inputs[1], storedInOut: true, node, hfBias);
            }
            if (node.OpType == "Gemm" && node.Inputs.Count == 3 && node.Inputs[2] == biasValue)
            {
                if ((node.Attribute("transA")?.I ?? 0) != 0)
                    throw Error(g, hfBias, $"its Gemm '{node.Name}' has transA = 1, which a Linear export never uses");
                var transB = node.Attribute("transB")?.I ?? 0;
                return Resolve(g, node, node.Inputs[1], storedInOut: transB == 0, node, hfBias);
            }
        }
        var seen = consumers.Count == 0 ? "no node uses it"
            : "it is used by " + string.Join(", ", consumers.Select(c => $"{c.OpType} '{c.Name}'"));
        throw Error(g, hfBias, $"it is neither added to a MatMul output nor a Gemm bias ({seen})");
    }

    private static LinearTrace Resolve(OnnxGraphIndex g, OnnxNode op, string weight, bool storedInOut, OnnxNode biasNode, string hfBias)
    {
        var transposed = storedInOut;
        var tensor = g.ConstantTensor(weight);
        if (tensor is null && g.Producer(weight) is { OpType: "Transpose", Inputs.Count: 1 } t
            && (t.Attribute("perm")?.Ints ?? []) is [1, 0] or [])
        {
            tensor = g.ConstantTensor(t.Inputs[0]); // Transpose(W) left unfolded: W is already [out, in]
            transposed = !storedInOut;
        }
        if (tensor is null)
            throw Error(g, hfBias, $"the weight input '{weight}' of its {op.OpType} '{op.Name}' is not a constant");
        if (tensor.Dims.Length != 2)
            throw Error(g, hfBias, $"its weight '{tensor.Name}' has shape [{string.Join(", ", tensor.Dims)}], not 2-D");
        return new LinearTrace(tensor, transposed, biasNode);
    }

    private static CheckpointException Error(OnnxGraphIndex g, string hfBias, string problem) =>
        new($"{g.Model.Path}: cannot trace the weight of '{hfBias}': {problem}");
}
