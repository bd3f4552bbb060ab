using System.CommandLine;
using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Cli;

/// <summary>
/// <c>torchbert forward</c>: runs a model on ids from JSON and writes every output to safetensors, so any conversion can
/// be checked against HF numbers.
/// </summary>
internal static class Forward
{
    public static Command Command()
    {
        var model = new Option<string>("--model") { Description = "model folder or .onnx file", Required = true };
        var input = new Option<string>("--input") { Description = "JSON: {\"input_ids\":[[...]],\"attention_mask\":[[...]],\"token_type_ids\":[[...]]}", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors file to write", Required = true };
        var hidden = new Option<bool>("--hidden-states") { Description = "also write hidden_states.{i} (0 = embeddings)" };
        var attentions = new Option<bool>("--attentions") { Description = "also write attentions.{i}" };
        var dtype = CommonOptions.DType();
        var cmd = new Command("forward", "run a model on token ids from JSON; write outputs to safetensors") { model, input, output, hidden, attentions, dtype };
        cmd.SetAction(p => Cli.Run(() =>
        {
            var dt = CommonOptions.ParseDType(p.GetValue(dtype));
            return Run(p.GetValue(model)!, p.GetValue(input)!, p.GetValue(output)!, p.GetValue(hidden), p.GetValue(attentions), dt);
        }));
        return cmd;
    }

    private static int Run(string modelPath, string inputPath, string outputPath, bool hiddenStates, bool attentions, ScalarType? dtype = null)
    {
        if (!File.Exists(inputPath)) throw new FileNotFoundException($"{inputPath}: input JSON not found");
        var json = JsonNode.Parse(File.ReadAllText(inputPath)) as JsonObject
                   ?? throw new FormatException($"{inputPath}: expected a JSON object with input_ids");
        using var m = Inspection.Load(modelPath, new PretrainedOptions { Device = CPU, DType = dtype });
        CpuFeatures.WarnOnceIfSlow(m.DType, DeviceType.CPU);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var ids = Matrix(json, "input_ids", inputPath) ?? throw new FormatException($"{inputPath}: input_ids is required");
        var mask = Matrix(json, "attention_mask", inputPath);
        var types = Matrix(json, "token_type_ids", inputPath);

        var outputs = new List<KeyValuePair<string, Tensor>>();
        IReadOnlyList<Tensor>? hs, att;
        if (m is BertForMaskedLM mlm)
        {
            var o = mlm.forward(ids, mask, types, outputHiddenStates: hiddenStates, outputAttentions: attentions);
            outputs.Add(new("logits", o.Logits));
            outputs.Add(new("last_hidden_state", o.LastHiddenState));
            (hs, att) = (o.HiddenStates, o.Attentions);
        }
        else
        {
            var o = ((BertModel)m).forward(ids, mask, types, outputHiddenStates: hiddenStates, outputAttentions: attentions);
            outputs.Add(new("last_hidden_state", o.LastHiddenState));
            if (o.PoolerOutput is { } pooled) outputs.Add(new("pooler_output", pooled));
            (hs, att) = (o.HiddenStates, o.Attentions);
        }
        if (hs is not null) outputs.AddRange(hs.Select((t, i) => new KeyValuePair<string, Tensor>($"hidden_states.{i}", t)));
        if (att is not null) outputs.AddRange(att.Select((t, i) => new KeyValuePair<string, Tensor>($"attentions.{i}", t)));
        SafeTensorsWriter.Write(outputPath, outputs.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(ScalarType.Float32).contiguous())),
            new Dictionary<string, string> { ["model"] = modelPath, ["architecture"] = m.GetType().Name });
        Console.Error.WriteLine($"torchbert: wrote {string.Join(", ", outputs.Select(kv => $"{kv.Key} ({string.Join("x", kv.Value.shape)})"))} to {outputPath}");
        return 0;
    }

    /// <summary>A rectangular int64 (B, T) tensor from a JSON array of arrays, or null when the key is absent.</summary>
    private static Tensor? Matrix(JsonObject json, string key, string file)
    {
        if (!json.TryGetPropertyValue(key, out var node) || node is null) return null;
        if (node is not JsonArray rows || rows.Count == 0)
            throw new FormatException($"{file}: {key} must be a non-empty array of arrays of integers");
        var data = new List<long>();
        int width = -1;
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r] is not JsonArray row) throw new FormatException($"{file}: {key}[{r}] is not an array");
            if (width >= 0 && row.Count != width) throw new FormatException($"{file}: {key}[{r}] has {row.Count} values, row 0 has {width} (rows must be equally long)");
            width = row.Count;
            for (int c = 0; c < row.Count; c++)
            {
                try { data.Add(row[c]!.GetValue<long>()); }
                catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
                {
                    throw new FormatException($"{file}: {key}[{r}][{c}] is not an integer");
                }
            }
        }
        return tensor(data.ToArray(), [rows.Count, width]);
    }
}

/// <summary>Loads the right class for a checkpoint: BertForMaskedLM when it has an MLM head, else BertModel.</summary>
internal static class Inspection
{
    public static BertPreTrainedModel Load(string path, PretrainedOptions? options = null) => Pretrained.LoadAuto(path, options);
}
