using System.Globalization;
using System.Text.RegularExpressions;
using TorchBert.Checkpoints;
using TorchBert.Configuration;

namespace TorchBert.Onnx;

/// <summary>
/// Imports a BERT exported to ONNX from HF <c>BertModel</c> (torch.onnx / optimum, un-fused): recovers HF state-dict
/// names and layouts and infers the <see cref="BertConfig"/> from tensor shapes and graph patterns.
/// </summary>
public static partial class OnnxBertImporter
{
    private const string WordEmbeddings = "embeddings.word_embeddings.weight";

    /// <summary>
    /// Opens <paramref name="onnxPath"/> (memory-mapped; tensors are read only when loaded) and maps its initializers to
    /// HF <c>BertModel</c> keys. Named initializers keep their names (minus any prefix such as "bert."); each anonymous
    /// Linear weight is found from its named bias and returned transposed to [out, in].
    /// </summary>
    /// <param name="onnxPath">The .onnx file.</param>
    /// <param name="numAttentionHeads">Used when the graph does not show the head count; must agree when it does.</param>
    /// <exception cref="CheckpointException">Malformed file, not a BERT graph, an untraceable bias, a shape mismatch.</exception>
    public static OnnxBertImport Import(string onnxPath, int? numAttentionHeads = null)
    {
        if (numAttentionHeads is <= 0)
            throw new ArgumentOutOfRangeException(nameof(numAttentionHeads), numAttentionHeads, "must be positive");
        var model = OnnxModel.Open(onnxPath);
        try
        {
            return Build(new OnnxGraphIndex(model), numAttentionHeads);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static OnnxBertImport Build(OnnxGraphIndex g, int? headsArgument)
    {
        var path = g.Model.Path;
        var notes = new List<string> { $"producer {g.Model.ProducerName} {g.Model.ProducerVersion}, ir_version {g.Model.IrVersion}, " +
            $"opsets {string.Join(", ", g.Model.Opsets.Select(o => $"{(o.Domain.Length == 0 ? "ai.onnx" : o.Domain)} {o.Version}"))}" };

        var found = g.Initializers.Keys.Where(n => n == WordEmbeddings || n.EndsWith("." + WordEmbeddings, StringComparison.Ordinal)).ToList();
        if (found.Count != 1)
            throw new CheckpointException(found.Count == 0
                ? $"{path}: not a BERT graph: no initializer named '{WordEmbeddings}' (with or without a prefix such as 'bert.'); " +
                  $"its {g.Initializers.Count} initializers include [{string.Join(", ", g.Initializers.Keys.Take(8))}]"
                : $"{path}: several word embeddings ({string.Join(", ", found)}); cannot tell which is the BERT");
        var prefix = found[0][..^WordEmbeddings.Length];
        notes.Add(prefix.Length == 0 ? "initializer names carry no prefix" : $"initializer prefix '{prefix}' removed");

        // Named (dotted, module-path) initializers under the prefix, by HF name; anonymous ones ("927",
        // "onnx::MatMul_1234") are MatMul weights or shape constants, reached through the graph.
        var named = new Dictionary<string, OnnxTensorInfo>();
        foreach (var t in g.Model.Graph.Initializers)
            if (t.Name.StartsWith(prefix, StringComparison.Ordinal) && ModulePath().IsMatch(t.Name[prefix.Length..]))
                named[t.Name[prefix.Length..]] = t;

        var config = InferShapes(path, named);
        var hasPooler = named.ContainsKey("pooler.dense.bias") || named.ContainsKey("pooler.dense.weight");
        notes.Add(hasPooler ? "pooler present" : "no pooler in the export");

        // Every expected key: a Linear weight is what the graph multiplies by, traced from its bias (a named weight is
        // only a fallback); other tensors are named.
        var traces = new Dictionary<string, LinearTrace>();
        var tensors = new List<OnnxCheckpointTensor>();
        foreach (var (key, shape) in BertStateDictLayout.Keys(config, hasPooler))
        {
            OnnxCheckpointTensor tensor;
            var bias = key.EndsWith(".weight", StringComparison.Ordinal) ? key[..^6] + "bias" : null;
            named.TryGetValue(key, out var info);
            if (shape.Length == 2 && bias is not null && !key.StartsWith("embeddings.", StringComparison.Ordinal) && named.ContainsKey(bias))
            {
                try
                {
                    var trace = traces[bias] = OnnxLinearTracer.Trace(g, prefix + bias, bias);
                    tensor = Tensor(g, trace.Weight, key, trace.Transposed);
                }
                catch (CheckpointException e) when (info is not null)
                {
                    notes.Add($"{key}: taken as named, in HF layout ({e.Message})");
                    tensor = Tensor(g, info, key, transposed: false);
                }
            }
            else if (info is not null)
                tensor = Tensor(g, info, key, transposed: false);
            else throw new CheckpointException($"{path}: BERT tensor '{prefix}{key}' is missing from the graph");
            if (!tensor.Shape.SequenceEqual(shape))
                throw new CheckpointException($"{path}: '{key}' (ONNX '{tensor.Source.Name}') has shape " +
                    $"[{string.Join(", ", tensor.Shape)}], expected [{string.Join(", ", shape)}] for the inferred config");
            tensors.Add(tensor);
        }
        ImportHeads(g, config, tensors, traces, notes);
        var expected = tensors.Select(t => t.Name).ToHashSet();
        var skipped = named.Keys.Where(k => !expected.Contains(k)).ToList();
        if (skipped.Count > 0) notes.Add($"named initializers not in BertModel's state dict, skipped: {string.Join(", ", skipped)}");
        notes.Add($"{g.Initializers.Count - named.Count} other initializers (anonymous MatMul weights, shape constants) are reached through the graph");
        notes.Add($"{traces.Count} Linear weights traced from their biases " +
                  $"({traces.Values.Count(t => t.Transposed)} stored [in, out] and transposed)");

        InferEps(g, prefix, config, notes);
        InferActivation(g, traces, config, notes);
        var headsSource = InferHeads(g, traces, config, headsArgument);
        try { config.Validate(path); }
        catch (BertConfigException e) { throw new CheckpointException($"{path}: inferred config is invalid: {e.Message}", e); }

        return new OnnxBertImport(config, new OnnxCheckpointReader(g.Model, tensors), headsSource, notes, hasPooler,
            g.Model.Graph.Inputs.Select(i => i.Name).ToList(), g.Model.Graph.Outputs.Select(o => o.Name).ToList());
    }

    private static OnnxCheckpointTensor Tensor(OnnxGraphIndex g, OnnxTensorInfo info, string key, bool transposed)
    {
        var element = OnnxSchema.Element(info.DataType)
                      ?? throw new CheckpointException($"{g.Model.Path}: '{key}' is {OnnxSchema.TypeName(info.DataType)}, not a supported type");
        if (transposed && info.Dims.Length != 2)
            throw new CheckpointException($"{g.Model.Path}: '{key}' has shape [{string.Join(", ", info.Dims)}], not 2-D");
        return new OnnxCheckpointTensor(g.Model, info, key, element.Type, transposed);
    }

    /// <summary>Sizes read from embedding and layer tensor shapes.</summary>
    private static BertConfig InferShapes(string path, Dictionary<string, OnnxTensorInfo> named)
    {
        long[] Dims(string key, int rank)
        {
            if (!named.TryGetValue(key, out var t))
                throw new CheckpointException($"{path}: not a BERT graph: no initializer '{key}'");
            return t.Dims.Length == rank ? t.Dims
                : throw new CheckpointException($"{path}: '{key}' has shape [{string.Join(", ", t.Dims)}], expected {rank}-D");
        }
        int Int(long v, string what) => v is > 0 and <= int.MaxValue ? (int)v
            : throw new CheckpointException($"{path}: {what} {v} is out of range");

        var word = Dims(WordEmbeddings, 2);
        var layers = named.Keys.Select(k => LayerIndex().Match(k)).Where(m => m.Success)
            .Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max() + 1;
        var config = new BertConfig
        {
            VocabSize = Int(word[0], "vocab_size"),
            HiddenSize = Int(word[1], "hidden_size"),
            MaxPositionEmbeddings = Int(Dims("embeddings.position_embeddings.weight", 2)[0], "max_position_embeddings"),
            TypeVocabSize = Int(Dims("embeddings.token_type_embeddings.weight", 2)[0], "type_vocab_size"),
            NumHiddenLayers = layers == 0 ? 0 : Int(layers, "num_hidden_layers"),
            Architectures = ["BertModel"],
        };
        if (layers > 0)
            config.IntermediateSize = Int(Dims("encoder.layer.0.intermediate.dense.bias", 1)[0], "intermediate_size");
        return config;
    }

    /// <summary>The task heads exported with BERT, outside its prefix, by HF module name (each one Linear on the encoder or the pooler).</summary>
    private static readonly string[] HeadModules = ["classifier", "qa_outputs", "cls.seq_relationship"];

    /// <summary>
    /// Imports the task heads the export carries (<c>classifier</c>, <c>qa_outputs</c>, NSP <c>cls.seq_relationship</c>):
    /// each weight traced from its named bias as for the encoder, and, unless a config.json says otherwise, the
    /// architecture and num_labels they imply (a classifier on (B, C, T) inputs is multiple choice; on (B, T, n) outputs
    /// token classification; else sequence classification).
    /// </summary>
    private static void ImportHeads(OnnxGraphIndex g, BertConfig config, List<OnnxCheckpointTensor> tensors,
        Dictionary<string, LinearTrace> traces, List<string> notes)
    {
        var path = g.Model.Path;
        var found = new List<(string Module, long Labels)>();
        foreach (var head in HeadModules)
        {
            var bias = head + ".bias";
            if (!g.Initializers.TryGetValue(bias, out var biasInfo)) continue;
            OnnxCheckpointTensor weight;
            try
            {
                var trace = traces[bias] = OnnxLinearTracer.Trace(g, bias, bias);
                weight = Tensor(g, trace.Weight, head + ".weight", trace.Transposed);
            }
            catch (CheckpointException e) when (g.Initializers.TryGetValue(head + ".weight", out var named))
            {
                notes.Add($"{head}.weight: taken as named, in HF layout ({e.Message})");
                weight = Tensor(g, named, head + ".weight", transposed: false);
            }
            var biasTensor = Tensor(g, biasInfo, bias, transposed: false);
            if (biasTensor.Shape.Length != 1 || !weight.Shape.SequenceEqual([biasTensor.Shape[0], config.HiddenSize]))
                throw new CheckpointException($"{path}: head '{head}' has weight [{string.Join(", ", weight.Shape)}] and bias " +
                                              $"[{string.Join(", ", biasTensor.Shape)}], expected [n, {config.HiddenSize}] and [n]");
            tensors.Add(weight);
            tensors.Add(biasTensor);
            found.Add((head, biasTensor.Shape[0]));
        }
        if (found.Count == 0) return;

        var (module, labels) = found[0];
        var inputRank = g.Model.Graph.Inputs.FirstOrDefault(i => i.Name == "input_ids")?.Dims.Count ?? 2;
        var outputRank = g.Model.Graph.Outputs.FirstOrDefault()?.Dims.Count ?? 2;
        var architecture = module switch
        {
            "qa_outputs" => "BertForQuestionAnswering",
            "cls.seq_relationship" => "BertForNextSentencePrediction",
            _ when inputRank == 3 => "BertForMultipleChoice",
            _ when outputRank == 3 => "BertForTokenClassification",
            _ => "BertForSequenceClassification",
        };
        config.Architectures = [architecture];
        if (architecture != "BertForMultipleChoice" && labels <= int.MaxValue) config.NumLabels = (int)labels;
        notes.Add($"task head {string.Join(", ", found.Select(f => $"{f.Module} ({f.Labels} outputs)"))}: {architecture} " +
                  "(config.json beside the export, when present, decides)");
    }

    [GeneratedRegex(@"^[A-Za-z_]\w*(\.\w+)+$")]
    private static partial Regex ModulePath();

    [GeneratedRegex(@"^encoder\.layer\.(\d{1,6})\.")]
    private static partial Regex LayerIndex();
}
