using TorchBert.Checkpoints;
using TorchBert.Configuration;

namespace TorchBert.Onnx;

/// <summary>
/// A BERT recovered from an ONNX export: the config inferred from the graph and the weights under HF
/// <c>BertModel</c> state-dict names and layouts. Disposing it disposes <see cref="Weights"/> (unmapping the file).
/// </summary>
public sealed class OnnxBertImport : IDisposable
{
    internal OnnxBertImport(BertConfig config, ICheckpointReader weights, string headsSource, IReadOnlyList<string> notes,
        bool hasPooler, IReadOnlyList<string> inputNames, IReadOnlyList<string> outputNames)
    {
        Config = config;
        Weights = weights;
        HeadsSource = headsSource;
        Notes = notes;
        HasPooler = hasPooler;
        InputNames = inputNames;
        OutputNames = outputNames;
    }

    /// <summary>The config inferred from tensor shapes and graph patterns.</summary>
    public BertConfig Config { get; }
    /// <summary>HF-named tensors (no prefix), Linear weights [out, in]; format "onnx".</summary>
    public ICheckpointReader Weights { get; }
    /// <summary>Where num_attention_heads came from: a Reshape in the graph (named) or the caller's argument.</summary>
    public string HeadsSource { get; }
    /// <summary>What the import noticed or assumed: name prefix, eps and activation evidence, skipped initializers.</summary>
    public IReadOnlyList<string> Notes { get; }
    /// <summary>Whether the export includes the pooler (<c>pooler.dense.weight</c>/<c>bias</c>).</summary>
    public bool HasPooler { get; }
    /// <summary>The graph's input names, in order (e.g. input_ids, attention_mask, token_type_ids).</summary>
    public IReadOnlyList<string> InputNames { get; }
    /// <summary>The graph's output names, in order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Disposes <see cref="Weights"/>, unmapping the ONNX file.</summary>
    public void Dispose() => Weights.Dispose();
}
