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
        var model = new Option<string>("--model") { Description = "model folder, .onnx file or Hub id", Required = true };
        var input = new Option<string>("--input") { Description = "JSON: input_ids, attention_mask, token_type_ids (B×T, or B×C×T for multiple choice); optional labels, start_positions, end_positions, next_sentence_label, encoder_hidden_states, encoder_attention_mask", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors file to write", Required = true };
        var hidden = new Option<bool>("--hidden-states") { Description = "also write hidden_states.{i} (0 = embeddings)" };
        var attentions = new Option<bool>("--attentions") { Description = "also write attentions.{i}" };
        var revision = CommonOptions.Revision();
        var dtype = CommonOptions.DType();
        var device = CommonOptions.Device();
        var cmd = new Command("forward", "run a model on token ids from JSON; write outputs to safetensors") { model, revision, input, output, hidden, attentions, dtype, device };
        cmd.SetAction((p, _) => Cli.Run(() =>
        {
            var dt = CommonOptions.ParseDType(p.GetValue(dtype));
            var dev = CommonOptions.ParseDevice(p.GetValue(device));
            Cli.CheckOutputFile(p.GetValue(output)!, "--output");
            return Run(ModelLocator.Default.Resolve(p.GetValue(model)!, p.GetValue(revision)), p.GetValue(input)!, p.GetValue(output)!, p.GetValue(hidden), p.GetValue(attentions), dt, dev);
        }));
        return cmd;
    }

    private static int Run(string modelPath, string inputPath, string outputPath, bool hiddenStates, bool attentions, ScalarType? dtype, Device? device)
    {
        if (!File.Exists(inputPath)) throw new FileNotFoundException($"{inputPath}: input JSON not found");
        JsonNode? node;
        try { node = JsonNode.Parse(Utf8TextFile.ReadAllText(inputPath)); }
        catch (System.Text.Json.JsonException e) { throw new FormatException($"{inputPath}: invalid JSON: {Messages.Clean(e)}"); }
        var json = node as JsonObject ?? throw new FormatException($"{inputPath}: expected a JSON object with input_ids");
        using var m = Inspection.Load(modelPath, new PretrainedOptions { Device = device, DType = dtype });
        CpuFeatures.WarnOnceIfSlow(m.DType, m.Device.type, StderrLogger.Instance);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var known = new[] { "input_ids", "attention_mask", "token_type_ids", "position_ids", "labels", "start_positions",
                            "end_positions", "next_sentence_label", "encoder_hidden_states", "encoder_attention_mask" };
        if (json.Select(kv => kv.Key).FirstOrDefault(k => !known.Contains(k)) is { } unknown)
            throw new FormatException($"{inputPath}: unknown key '{unknown}' (expected {string.Join(", ", known)})");
        Tensor? On(Tensor? t) => t?.to(m.Device);   // the inputs go to the model's device (--device)
        Tensor? Ints(string key) => On(JsonTensor.Read(json, key, inputPath, JsonTensor.Kind.Integer));
        var inputs = new ForwardInputs
        {
            InputIds = Ints("input_ids") ?? throw new FormatException($"{inputPath}: input_ids is required"),
            AttentionMask = Ints("attention_mask"),
            TokenTypeIds = Ints("token_type_ids"),
            PositionIds = Ints("position_ids"),
            Labels = On(JsonTensor.Read(json, "labels", inputPath, JsonTensor.Kind.IntegerOrFloat)),
            StartPositions = Ints("start_positions"),
            EndPositions = Ints("end_positions"),
            NextSentenceLabel = Ints("next_sentence_label"),
            EncoderHiddenStates = On(JsonTensor.Read(json, "encoder_hidden_states", inputPath, JsonTensor.Kind.Float)),
            EncoderAttentionMask = Ints("encoder_attention_mask"),
            OutputHiddenStates = hiddenStates,
            OutputAttentions = attentions,
        };
        using var o = m.Forward(inputs);
        var outputs = o.Named().ToList();
        SafeTensorsWriter.Write(outputPath, outputs.Select(n => new KeyValuePair<string, Tensor>(n.Name, n.Value.to(ScalarType.Float32).cpu().contiguous())),
            new Dictionary<string, string> { ["model"] = modelPath, ["architecture"] = m.GetType().Name });
        Console.Error.WriteLine($"torchbert: wrote {string.Join(", ", outputs.Select(n => $"{n.Name} ({(n.Value.dim() == 0 ? "scalar" : string.Join("x", n.Value.shape))})"))} to {outputPath}");
        return 0;
    }
}

/// <summary>A rectangular tensor of any rank from nested JSON arrays, with the file, key and index in every error.</summary>
internal static class JsonTensor
{
    public enum Kind { Integer, Float, IntegerOrFloat }

    /// <summary>int64 (or float32 for <see cref="Kind.Float"/>, and for <see cref="Kind.IntegerOrFloat"/> when any value has a fraction); null when the key is absent.</summary>
    public static Tensor? Read(JsonObject json, string key, string file, Kind kind)
    {
        if (!json.TryGetPropertyValue(key, out var node) || node is null) return null;
        var shape = new List<long>();
        var values = new List<JsonNode?>();
        Walk(node, key, 0, shape, values, file, key);
        var isFloat = kind == Kind.Float || (kind == Kind.IntegerOrFloat && values.Any(v => !IsInteger(v)));
        if (isFloat)
        {
            var data = values.Select((v, i) => Number(v, file, key, shape, i)).ToArray();
            return tensor(data, shape.ToArray());
        }
        var ints = new long[values.Count];
        for (int i = 0; i < ints.Length; i++)
        {
            if (!IsInteger(values[i])) throw new FormatException($"{file}: {Where(key, shape, i)} is not an integer");
            ints[i] = values[i]!.GetValue<long>();
        }
        return tensor(ints, shape.ToArray());
    }

    private static void Walk(JsonNode node, string path, int depth, List<long> shape, List<JsonNode?> values, string file, string key)
    {
        if (node is JsonArray array)
        {
            if (array.Count == 0) throw new FormatException($"{file}: {path} is an empty array");
            if (depth == shape.Count)
            {
                if (values.Count > 0) throw new FormatException($"{file}: {path} is an array where a number was expected (the nesting is uneven)");
                shape.Add(array.Count);
            }
            else if (shape[depth] != array.Count)
                throw new FormatException($"{file}: {path} has {array.Count} values, {(depth == 1 ? "row 0" : key + string.Concat(Enumerable.Repeat("[0]", depth)))} has {shape[depth]} (rows must be equally long)");
            for (int i = 0; i < array.Count; i++)
                Walk(array[i] ?? throw new FormatException($"{file}: {path}[{i}] is null"), $"{path}[{i}]", depth + 1, shape, values, file, key);
            return;
        }
        if (depth != shape.Count) throw new FormatException($"{file}: {path} is a number where an array was expected (the nesting is uneven)");
        values.Add(node);
    }

    private static bool IsInteger(JsonNode? v) =>
        v is JsonValue j && j.TryGetValue<long>(out _) && !j.ToJsonString().Contains('.') && !j.ToJsonString().Contains('e', StringComparison.OrdinalIgnoreCase);

    private static float Number(JsonNode? v, string file, string key, List<long> shape, int index) =>
        v is JsonValue j && j.TryGetValue<double>(out var d) ? (float)d : throw new FormatException($"{file}: {Where(key, shape, index)} is not a number");

    private static string Where(string key, List<long> shape, int flat)
    {
        var index = new long[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--) { index[d] = flat % shape[d]; flat /= (int)shape[d]; }
        return key + string.Concat(index.Select(i => $"[{i}]"));
    }
}

/// <summary>Loads the class config.json's <c>architectures</c> names (<see cref="BertAutoModel"/>).</summary>
internal static class Inspection
{
    public static BertPreTrainedModel Load(string path, PretrainedOptions? options = null) => BertAutoModel.FromPretrained(path, options);
}
