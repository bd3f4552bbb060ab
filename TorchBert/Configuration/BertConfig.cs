using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace TorchBert.Configuration;

/// <summary>Activation named by <c>hidden_act</c> (HF <c>ACT2FN</c>).</summary>
public enum HiddenAct { Gelu, GeluNew, GeluPytorchTanh, Relu, Silu }

/// <summary>HF <c>position_embedding_type</c>.</summary>
public enum PositionEmbeddingType { Absolute, RelativeKey, RelativeKeyQuery }

/// <summary>Attention kernel: HF's <c>attn_implementation</c> ("eager" or "sdpa").</summary>
public enum AttentionImplementation { Eager, Sdpa }

/// <summary>
/// Port of HF <c>BertConfig</c> (configuration_bert.py). Defaults are bert-base-uncased's; property names map to
/// config.json's snake_case keys. Unknown keys are kept in <see cref="Extra"/> and written back unchanged.
/// </summary>
public sealed partial class BertConfig
{
    public string ModelType { get; set; } = "bert";
    public List<string>? Architectures { get; set; }
    public int VocabSize { get; set; } = 30522;
    public int HiddenSize { get; set; } = 768;
    public int NumHiddenLayers { get; set; } = 12;
    public int NumAttentionHeads { get; set; } = 12;
    public int IntermediateSize { get; set; } = 3072;
    public HiddenAct HiddenAct { get; set; } = HiddenAct.Gelu;
    public double HiddenDropoutProb { get; set; } = 0.1;
    public double AttentionProbsDropoutProb { get; set; } = 0.1;
    public int MaxPositionEmbeddings { get; set; } = 512;
    public int TypeVocabSize { get; set; } = 2;
    public double InitializerRange { get; set; } = 0.02;
    public double LayerNormEps { get; set; } = 1e-12;
    public int PadTokenId { get; set; }
    public PositionEmbeddingType PositionEmbeddingType { get; set; } = PositionEmbeddingType.Absolute;
    /// <summary>HF <c>is_decoder</c>: causal self-attention (and a key/value cache) instead of bidirectional.</summary>
    public bool IsDecoder { get; set; }
    /// <summary>HF <c>add_cross_attention</c>: a <c>crossattention</c> block per layer (needs <see cref="IsDecoder"/> to build a model, as HF).</summary>
    public bool AddCrossAttention { get; set; }
    /// <summary>HF <c>use_cache</c>: decoders return <c>past_key_values</c> unless a call says otherwise.</summary>
    public bool UseCache { get; set; } = true;
    /// <summary>Not a config.json key in HF (a from_pretrained argument); kept here so one switch selects it.</summary>
    public AttentionImplementation AttnImplementation { get; set; } = AttentionImplementation.Sdpa;
    /// <summary>HF <c>problem_type</c>: regression, single_label_classification or multi_label_classification; null = inferred per call.</summary>
    public string? ProblemType { get; set; }
    /// <summary>HF <c>classifier_dropout</c>: the heads' dropout; null = <see cref="HiddenDropoutProb"/>.</summary>
    public double? ClassifierDropout { get; set; }
    /// <summary>HF <c>tie_word_embeddings</c>: the MLM decoder shares the word embedding matrix.</summary>
    public bool TieWordEmbeddings { get; set; } = true;
    /// <summary>config.json keys this class does not model, written back as they were.</summary>
    public Dictionary<string, JsonNode?> Extra { get; } = new();

    public int HeadSize => HiddenSize / NumAttentionHeads;

    /// <summary>Checks the values modules depend on; throws <see cref="BertConfigException"/> naming the value.</summary>
    public BertConfig Validate(string source = "config")
    {
        void Require(bool ok, string message) { if (!ok) throw new BertConfigException($"{source}: {message}"); }
        Require(ModelType == "bert", $"model_type '{ModelType}' is not supported (only 'bert')");
        Require(VocabSize > 0, $"vocab_size must be > 0, got {VocabSize}");
        Require(HiddenSize > 0, $"hidden_size must be > 0, got {HiddenSize}");
        Require(NumAttentionHeads > 0, $"num_attention_heads must be > 0, got {NumAttentionHeads}");
        Require(HiddenSize % NumAttentionHeads == 0,
            $"hidden_size ({HiddenSize}) is not a multiple of num_attention_heads ({NumAttentionHeads})");
        Require(NumHiddenLayers >= 0, $"num_hidden_layers must be >= 0, got {NumHiddenLayers}");
        Require(IntermediateSize > 0, $"intermediate_size must be > 0, got {IntermediateSize}");
        Require(MaxPositionEmbeddings > 0, $"max_position_embeddings must be > 0, got {MaxPositionEmbeddings}");
        Require(TypeVocabSize > 0, $"type_vocab_size must be > 0, got {TypeVocabSize}");
        Require(LayerNormEps > 0, $"layer_norm_eps must be > 0, got {LayerNormEps}");
        Require(PadTokenId >= 0 && PadTokenId < VocabSize, $"pad_token_id {PadTokenId} is outside the vocabulary (size {VocabSize})");
        Require(HiddenDropoutProb is >= 0 and <= 1, $"hidden_dropout_prob must be in [0, 1], got {HiddenDropoutProb}");
        Require(AttentionProbsDropoutProb is >= 0 and <= 1, $"attention_probs_dropout_prob must be in [0, 1], got {AttentionProbsDropoutProb}");
        Require(ClassifierDropout is null or (>= 0 and <= 1), $"classifier_dropout must be in [0, 1] or null, got {ClassifierDropout}");
        Require(ProblemType is null || ProblemTypes.Contains(ProblemType),
            $"problem_type '{ProblemType}' is not one of {string.Join(", ", ProblemTypes)}");
        ValidateLabels(Require);
        return this;
    }

    public BertConfig Clone()
    {
        var copy = FromJson(ToJson());
        copy.AttnImplementation = AttnImplementation;
        return copy;
    }

    // ---- config.json -------------------------------------------------------------------------------------------

    public static BertConfig FromFile(string path)
    {
        if (!File.Exists(path)) throw new BertConfigException($"{path}: config.json not found");
        return FromJson(File.ReadAllText(path), path);
    }

    public static BertConfig FromJson(string json, string source = "config.json")
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject
                   ?? throw new BertConfigException($"{source}: the top level is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new BertConfigException($"{source}: invalid JSON ({e.Message})", e);
        }

        var c = new BertConfig();
        foreach (var (key, node) in root)
        {
            try { if (!c.SetKnown(key, node) && !c.SetLabelKey(key, node)) c.Extra[key] = node?.DeepClone(); }
            catch (BertConfigException e)
            {
                throw new BertConfigException($"{source}: {e.Message}", e);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException or OverflowException)
            {
                throw new BertConfigException($"{source}: key '{key}' has an invalid value {node?.ToJsonString() ?? "null"}", e);
            }
        }
        try { c.ResolveLabels(); }
        catch (BertConfigException e) { throw new BertConfigException($"{source}: {e.Message}", e); }
        return c.Validate(source);
    }

    private bool SetKnown(string key, JsonNode? v)
    {
        switch (key)
        {
            case "model_type": ModelType = v!.GetValue<string>(); return true;
            case "architectures": Architectures = v?.AsArray().Select(a => a!.GetValue<string>()).ToList(); return true;
            case "vocab_size": VocabSize = Int(v); return true;
            case "hidden_size": HiddenSize = Int(v); return true;
            case "num_hidden_layers": NumHiddenLayers = Int(v); return true;
            case "num_attention_heads": NumAttentionHeads = Int(v); return true;
            case "intermediate_size": IntermediateSize = Int(v); return true;
            case "hidden_act": HiddenAct = ParseAct(v!.GetValue<string>()); return true;
            case "hidden_dropout_prob": HiddenDropoutProb = v!.GetValue<double>(); return true;
            case "attention_probs_dropout_prob": AttentionProbsDropoutProb = v!.GetValue<double>(); return true;
            case "max_position_embeddings": MaxPositionEmbeddings = Int(v); return true;
            case "type_vocab_size": TypeVocabSize = Int(v); return true;
            case "initializer_range": InitializerRange = v!.GetValue<double>(); return true;
            case "layer_norm_eps": LayerNormEps = v!.GetValue<double>(); return true;
            case "pad_token_id": PadTokenId = v is null ? 0 : Int(v); return true;
            case "position_embedding_type": PositionEmbeddingType = ParsePos(v?.GetValue<string>() ?? "absolute"); return true;
            case "is_decoder": IsDecoder = Bool(v); return true;
            case "add_cross_attention": AddCrossAttention = Bool(v); return true;
            case "use_cache": UseCache = Bool(v); return true;
            case "problem_type": ProblemType = v?.GetValue<string>(); return true;
            case "classifier_dropout": ClassifierDropout = v?.GetValue<double>(); return true;
            case "tie_word_embeddings": TieWordEmbeddings = v?.GetValue<bool>() ?? true; return true;
            default: return false;
        }
    }

    private static bool Bool(JsonNode? v) => v is null ? throw new FormatException("null") : v.GetValue<bool>();
    private static int Int(JsonNode? v) => v is null ? throw new FormatException("null") : checked((int)v.GetValue<double>());

    public static HiddenAct ParseAct(string name) => name switch
    {
        "gelu" => HiddenAct.Gelu,
        "gelu_new" => HiddenAct.GeluNew,
        "gelu_pytorch_tanh" => HiddenAct.GeluPytorchTanh,
        "relu" => HiddenAct.Relu,
        "silu" or "swish" => HiddenAct.Silu,
        _ => throw new BertConfigException(
            $"hidden_act '{name}' is not supported (use gelu, gelu_new, gelu_pytorch_tanh, relu, silu or swish)"),
    };

    public static string ActName(HiddenAct act) => act switch
    {
        HiddenAct.Gelu => "gelu",
        HiddenAct.GeluNew => "gelu_new",
        HiddenAct.GeluPytorchTanh => "gelu_pytorch_tanh",
        HiddenAct.Relu => "relu",
        _ => "silu",
    };

    public static PositionEmbeddingType ParsePos(string name) => name switch
    {
        "absolute" => PositionEmbeddingType.Absolute,
        "relative_key" => PositionEmbeddingType.RelativeKey,
        "relative_key_query" => PositionEmbeddingType.RelativeKeyQuery,
        _ => throw new BertConfigException(
            $"position_embedding_type '{name}' is not supported (use absolute, relative_key or relative_key_query)"),
    };

    public static string PosName(PositionEmbeddingType p) => p switch
    {
        PositionEmbeddingType.Absolute => "absolute",
        PositionEmbeddingType.RelativeKey => "relative_key",
        _ => "relative_key_query",
    };

    public string ToJson()
    {
        var o = new JsonObject();
        if (Architectures is not null) o["architectures"] = new JsonArray(Architectures.Select(a => (JsonNode?)a).ToArray());
        o["model_type"] = ModelType;
        o["vocab_size"] = VocabSize;
        o["hidden_size"] = HiddenSize;
        o["num_hidden_layers"] = NumHiddenLayers;
        o["num_attention_heads"] = NumAttentionHeads;
        o["intermediate_size"] = IntermediateSize;
        o["hidden_act"] = ActName(HiddenAct);
        o["hidden_dropout_prob"] = HiddenDropoutProb;
        o["attention_probs_dropout_prob"] = AttentionProbsDropoutProb;
        o["max_position_embeddings"] = MaxPositionEmbeddings;
        o["type_vocab_size"] = TypeVocabSize;
        o["initializer_range"] = InitializerRange;
        o["layer_norm_eps"] = LayerNormEps;
        o["pad_token_id"] = PadTokenId;
        o["position_embedding_type"] = PosName(PositionEmbeddingType);
        o["is_decoder"] = IsDecoder;
        o["add_cross_attention"] = AddCrossAttention;
        o["use_cache"] = UseCache;
        if (ClassifierDropout is { } classifierDropout) o["classifier_dropout"] = classifierDropout;
        if (ProblemType is not null) o["problem_type"] = ProblemType;
        if (!TieWordEmbeddings) o["tie_word_embeddings"] = false;
        WriteLabels(o);
        foreach (var (k, v) in Extra) o[k] = v?.DeepClone();
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public void Save(string path) => File.WriteAllText(path, ToJson());
}

/// <summary>A config.json that cannot be used, with the file and the offending key in the message.</summary>
public sealed class BertConfigException(string message, Exception? inner = null) : TorchBertException(message, inner);
