using System.Globalization;
using TorchBert.Checkpoints;
using TorchBert.Configuration;

namespace TorchBert.Onnx;

public static partial class OnnxBertImporter
{
    /// <summary>layer_norm_eps from the LayerNorms' epsilon (all of them must agree).</summary>
    private static void InferEps(OnnxGraphIndex g, string prefix, BertConfig config, List<string> notes)
    {
        var found = BertStateDictLayout.LayerNormWeights(config.NumHiddenLayers)
            .Select(w => (Weight: w, Found: OnnxConfigInference.LayerNormEps(g, prefix + w)))
            .ToList();
        var distinct = found.Where(f => f.Found is not null).Select(f => f.Found!.Value.Eps).Distinct().ToList();
        if (distinct.Count == 0)
        {
            notes.Add($"layer_norm_eps not found in the graph; kept the default {R(config.LayerNormEps)}");
            return;
        }
        var first = found.First(f => f.Found is not null);
        config.LayerNormEps = first.Found!.Value.Eps;
        var missing = found.Count(f => f.Found is null);
        notes.Add($"layer_norm_eps {R(config.LayerNormEps)} from {first.Weight}'s {first.Found.Value.Evidence}" +
                  (missing > 0 ? $"; not found for {missing} of {found.Count} LayerNorms" : $"; all {found.Count} LayerNorms agree"));
        if (distinct.Count > 1)
            throw new CheckpointException($"{g.Model.Path}: the LayerNorms use different epsilons " +
                                          $"({string.Join(", ", distinct.Select(R))}); BertConfig has one layer_norm_eps");
    }

    /// <summary>hidden_act from the ops after layer 0's intermediate.dense.</summary>
    private static void InferActivation(OnnxGraphIndex g, Dictionary<string, LinearTrace> traces, BertConfig config, List<string> notes)
    {
        if (!traces.TryGetValue("encoder.layer.0.intermediate.dense.bias", out var trace))
        {
            notes.Add($"hidden_act: no traced intermediate.dense; kept the default {BertConfig.ActName(config.HiddenAct)}");
            return;
        }
        if (OnnxConfigInference.Activation(g, trace.BiasNode.Outputs[0]) is { } act)
        {
            config.HiddenAct = act.Act;
            notes.Add($"hidden_act {BertConfig.ActName(act.Act)} from {act.Evidence}");
        }
        else
        {
            var ops = g.Downstream(trace.BiasNode.Outputs[0], n => n.OpType is "MatMul" or "Gemm").Select(n => n.OpType).Distinct();
            notes.Add($"hidden_act NOT RECOGNIZED (ops after intermediate.dense: {string.Join(", ", ops)}); " +
                      $"kept the default {BertConfig.ActName(config.HiddenAct)}");
        }
    }

    /// <summary>num_attention_heads from layer 0's query/key/value Reshape, else the argument.</summary>
    private static string InferHeads(OnnxGraphIndex g, Dictionary<string, LinearTrace> traces, BertConfig config, int? argument)
    {
        (int Heads, string Evidence)? found = null;
        foreach (var name in new[] { "query", "key", "value" })
        {
            if (traces.TryGetValue($"encoder.layer.0.attention.self.{name}.bias", out var trace)
                && OnnxConfigInference.Heads(g, trace.BiasNode.Outputs[0], config.HiddenSize) is { } h)
            {
                found = (h.Heads, $"{h.Evidence} after attention.self.{name}");
                break;
            }
        }
        if (found is { } f)
        {
            if (argument is { } a && a != f.Heads)
                throw new CheckpointException($"{g.Model.Path}: numAttentionHeads {a} was given, but the graph uses {f.Heads} ({f.Evidence})");
            config.NumAttentionHeads = f.Heads;
            return f.Evidence;
        }
        if (argument is { } arg)
        {
            config.NumAttentionHeads = arg;
            return "argument (the graph's attention Reshapes do not show the head count)";
        }
        if (config.NumHiddenLayers == 0)
            return $"default {config.NumAttentionHeads} (the graph has no layers)";
        throw new CheckpointException($"{g.Model.Path}: num_attention_heads cannot be read from the graph " +
                                      "(no Reshape to [batch, seq, heads, head_size] after layer 0's query/key/value); pass numAttentionHeads");
    }

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
