using TorchBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Analysis;

/// <summary>
/// Attention probabilities of one sequence, from <c>forward(..., outputAttentions: true)</c> (HF <c>attentions</c>,
/// computed by the eager attention). Layers and heads are numbered from 0, as HF's <c>attentions[layer][0, head]</c>.
/// </summary>
public static class AttentionMaps
{
    /// <summary>All of them: [layer][head][query token][key token]; each query row sums to 1.</summary>
    public static float[][][][] Compute(BertModel model, TokenInput input)
    {
        input.CheckFits(model.Config);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var ids = tensor(input.InputIds, [1, input.Length], device: model.Device);                 // (1, T)
        var types = tensor(input.TokenTypeIds, [1, input.Length], device: model.Device);           // (1, T)
        using var output = model.forward(ids, tokenTypeIds: types, outputAttentions: true);
        int t = input.Length;
        return output.Attentions!.Select(a =>
        {
            var probs = a[0].to(ScalarType.Float32).cpu().contiguous();                              // (nh, T, T)
            var all = probs.data<float>().ToArray();
            return Enumerable.Range(0, (int)probs.shape[0]).Select(h =>
                Enumerable.Range(0, t).Select(q => all.AsSpan((h * t + q) * t, t).ToArray()).ToArray()).ToArray();
        }).ToArray();
    }

    /// <summary>
    /// What <c>torchbert plot attention</c> shows: one head (<paramref name="layer"/> and <paramref name="head"/>), every
    /// head of a layer (<paramref name="head"/> null), or one head over every layer (<paramref name="layer"/> null).
    /// </summary>
    public static MatrixGrid Select(BertModel model, TokenInput input, int? layer, int? head)
    {
        var config = model.Config;
        if (layer is null && head is null)
            throw new ArgumentException("all layers needs one head: give a head number to compare it over the layers");
        if (layer is { } l && (l < 0 || l >= config.NumHiddenLayers))
            throw new ArgumentException($"layer {l} is out of range: the model has {config.NumHiddenLayers} layers (0..{config.NumHiddenLayers - 1})");
        if (head is { } h && (h < 0 || h >= config.NumAttentionHeads))
            throw new ArgumentException($"head {h} is out of range: the model has {config.NumAttentionHeads} heads per layer (0..{config.NumAttentionHeads - 1})");
        var all = Compute(model, input);
        LabelledMatrix Panel(int li, int hi, string title) => new(title, input.Tokens, input.Tokens,
            all[li][hi].Select(r => r.Select(v => (double)v).ToArray()).ToArray(), ValueKind.Probability);
        if (layer is { } one && head is { } single)
            return new MatrixGrid($"attention probabilities, layer {one} head {single}", [Panel(one, single, $"attention probabilities, layer {one} head {single}")]);
        if (layer is { } lay)
            return new MatrixGrid($"attention probabilities, layer {lay}, every head",
                Enumerable.Range(0, config.NumAttentionHeads).Select(hi => Panel(lay, hi, $"layer {lay} head {hi}")).ToList());
        return new MatrixGrid($"attention probabilities, head {head}, every layer",
            Enumerable.Range(0, config.NumHiddenLayers).Select(li => Panel(li, head!.Value, $"layer {li} head {head}")).ToList());
    }
}
