using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace TorchBert.Configuration;

/// <summary>Activation named by <c>hidden_act</c> (HF <c>ACT2FN</c>).</summary>
/// <summary>Feed-forward activation functions (<c>hidden_act</c>), as HF's ACT2FN defines them.</summary>
public enum HiddenAct
{
    /// <summary>Exact GELU (<c>gelu</c>).</summary>
    Gelu,
    /// <summary>Tanh-approximated GELU (<c>gelu_new</c>).</summary>
    GeluNew,
    /// <summary>PyTorch's tanh GELU (<c>gelu_pytorch_tanh</c>).</summary>
    GeluPytorchTanh,
    /// <summary>ReLU (<c>relu</c>).</summary>
    Relu,
    /// <summary>SiLU / swish (<c>silu</c>).</summary>
    Silu,
}

/// <summary>HF <c>position_embedding_type</c>.</summary>
/// <summary>How positions enter the model (<c>position_embedding_type</c>): absolute embeddings or Shaw-style relative keys (and queries).</summary>
public enum PositionEmbeddingType
{
    /// <summary>Learned absolute position embeddings (<c>absolute</c>).</summary>
    Absolute,
    /// <summary>Relative position scores on keys (<c>relative_key</c>).</summary>
    RelativeKey,
    /// <summary>Relative position scores on keys and queries (<c>relative_key_query</c>).</summary>
    RelativeKeyQuery,
}

/// <summary>Attention kernel: HF's <c>attn_implementation</c> ("eager" or "sdpa").</summary>
/// <summary>Attention kernel (<c>attn_implementation</c>): the eager matmul/softmax path or fused scaled-dot-product attention.</summary>
public enum AttentionImplementation
{
    /// <summary>Explicit matmul, softmax, matmul (returns attention probabilities).</summary>
    Eager,
    /// <summary>Fused scaled_dot_product_attention (no probabilities).</summary>
    Sdpa,
}

/// <summary>
/// Port of HF <c>BertConfig</c> (configuration_bert.py). Defaults are bert-base-uncased's; property names map to
/// config.json's snake_case keys. Unknown keys are kept in <see cref="Extra"/> and written back unchanged.
/// </summary>
public sealed partial class BertConfig
{
    /// <summary><c>model_type</c>: "bert".</summary>
    public string ModelType { get; set { ThrowIfFrozen(); field = value; } } = "bert";
    /// <summary><c>architectures</c>: the head class names the checkpoint was saved from (e.g. BertForMaskedLM).</summary>
    public List<string>? Architectures { get; set { ThrowIfFrozen(); field = value; } }
    /// <summary><c>vocab_size</c>: rows of the word embedding matrix.</summary>
    public int VocabSize { get; set { ThrowIfFrozen(); field = value; } } = 30522;
    /// <summary><c>hidden_size</c>: width of every hidden state.</summary>
    public int HiddenSize { get; set { ThrowIfFrozen(); field = value; } } = 768;
    /// <summary><c>num_hidden_layers</c>: number of encoder layers.</summary>
    public int NumHiddenLayers { get; set { ThrowIfFrozen(); field = value; } } = 12;
    /// <summary><c>num_attention_heads</c>: attention heads per layer (must divide <see cref="HiddenSize"/>).</summary>
    public int NumAttentionHeads { get; set { ThrowIfFrozen(); field = value; } } = 12;
    /// <summary><c>intermediate_size</c>: width of the feed-forward layer.</summary>
    public int IntermediateSize { get; set { ThrowIfFrozen(); field = value; } } = 3072;
    /// <summary><c>hidden_act</c>: the feed-forward activation.</summary>
    public HiddenAct HiddenAct { get; set { ThrowIfFrozen(); field = value; } } = HiddenAct.Gelu;
    /// <summary><c>hidden_dropout_prob</c>: dropout on embeddings and layer outputs (training only).</summary>
    public double HiddenDropoutProb { get; set { ThrowIfFrozen(); field = value; } } = 0.1;
    /// <summary><c>attention_probs_dropout_prob</c>: dropout on attention probabilities (training only).</summary>
    public double AttentionProbsDropoutProb { get; set { ThrowIfFrozen(); field = value; } } = 0.1;
    /// <summary><c>max_position_embeddings</c>: the longest sequence the position embeddings cover.</summary>
    public int MaxPositionEmbeddings { get; set { ThrowIfFrozen(); field = value; } } = 512;
    /// <summary><c>type_vocab_size</c>: number of token types (segments).</summary>
    public int TypeVocabSize { get; set { ThrowIfFrozen(); field = value; } } = 2;
    /// <summary><c>initializer_range</c>: standard deviation of the normal weight initialisation.</summary>
    public double InitializerRange { get; set { ThrowIfFrozen(); field = value; } } = 0.02;
    /// <summary><c>layer_norm_eps</c>: epsilon of every LayerNorm.</summary>
    public double LayerNormEps { get; set { ThrowIfFrozen(); field = value; } } = 1e-12;
    /// <summary><c>pad_token_id</c>: the padding token's id.</summary>
    public int PadTokenId { get; set { ThrowIfFrozen(); field = value; } }
    /// <summary><c>position_embedding_type</c>.</summary>
    public PositionEmbeddingType PositionEmbeddingType { get; set { ThrowIfFrozen(); field = value; } } = PositionEmbeddingType.Absolute;
    /// <summary>HF <c>is_decoder</c>: causal self-attention (and a key/value cache) instead of bidirectional.</summary>
    public bool IsDecoder { get; set { ThrowIfFrozen(); field = value; } }
    /// <summary>HF <c>add_cross_attention</c>: a <c>crossattention</c> block per layer (needs <see cref="IsDecoder"/> to build a model, as HF).</summary>
    public bool AddCrossAttention { get; set { ThrowIfFrozen(); field = value; } }
    /// <summary>HF <c>use_cache</c>: decoders return <c>past_key_values</c> unless a call says otherwise.</summary>
    public bool UseCache { get; set { ThrowIfFrozen(); field = value; } } = true;
    /// <summary>Not a config.json key in HF (a from_pretrained argument); kept here so one switch selects it.</summary>
    public AttentionImplementation AttnImplementation { get; set { ThrowIfFrozen(); field = value; } } = AttentionImplementation.Sdpa;
    /// <summary>HF <c>problem_type</c>: regression, single_label_classification or multi_label_classification; null = inferred per call.</summary>
    public string? ProblemType { get; set { ThrowIfFrozen(); field = value; } }
    /// <summary>HF <c>classifier_dropout</c>: the heads' dropout; null = <see cref="HiddenDropoutProb"/>.</summary>
    public double? ClassifierDropout { get; set { ThrowIfFrozen(); field = value; } }
    /// <summary>HF <c>tie_word_embeddings</c>: the MLM decoder shares the word embedding matrix.</summary>
    public bool TieWordEmbeddings { get; set { ThrowIfFrozen(); field = value; } } = true;
    /// <summary>config.json keys this class does not model, written back as they were.</summary>
    public Dictionary<string, JsonNode?> Extra { get; } = new();

    /// <summary>Width of one attention head (<see cref="HiddenSize"/> / <see cref="NumAttentionHeads"/>).</summary>
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

    /// <summary>
    /// Whether the config is read-only: the config a model holds (<c>model.Config</c>) is a frozen copy, so changing it
    /// cannot silently disagree with the modules already built from it. <see cref="Clone"/> gives a writable copy.
    /// </summary>
    public bool IsFrozen { get; private set; }

    /// <summary>A frozen deep copy (what a model keeps as its <c>Config</c>); this instance stays writable.</summary>
    public BertConfig FrozenCopy()
    {
        var copy = Clone();
        copy.IsFrozen = true;
        return copy;
    }

    private void ThrowIfFrozen()
    {
        if (IsFrozen)
            throw new InvalidOperationException("this BertConfig belongs to a built model and is read-only; change a copy (config.Clone()) and build a new model from it");
    }

    /// <summary>A deep, writable copy.</summary>
    public BertConfig Clone()
    {
        var copy = Parse(ToJson(), "config");   // a copy, not a new input: not validated again
        copy.AttnImplementation = AttnImplementation;
        return copy;
    }

    // ---- config.json -------------------------------------------------------------------------------------------

    /// <summary>Reads a <c>config.json</c>; errors name the file and the key.</summary>
    public static BertConfig FromFile(string path)
    {
        if (!File.Exists(path)) throw new BertConfigException($"{path}: config.json not found");
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Parses <c>config.json</c> text; <paramref name="source"/> names it in errors.</summary>
    public static BertConfig FromJson(string json, string source = "config.json") => Parse(json, source).Validate(source);

    private static BertConfig Parse(string json, string source)
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
        return c;
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

    /// <summary>Parses a <c>hidden_act</c> name (<c>gelu</c>, <c>gelu_new</c>, <c>gelu_pytorch_tanh</c>, <c>relu</c>, <c>silu</c>/<c>swish</c>).</summary>
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

    /// <summary>The <c>hidden_act</c> name HF writes for <paramref name="act"/>.</summary>
    public static string ActName(HiddenAct act) => act switch
    {
        HiddenAct.Gelu => "gelu",
        HiddenAct.GeluNew => "gelu_new",
        HiddenAct.GeluPytorchTanh => "gelu_pytorch_tanh",
        HiddenAct.Relu => "relu",
        _ => "silu",
    };

    /// <summary>Parses a <c>position_embedding_type</c> name (<c>absolute</c>, <c>relative_key</c>, <c>relative_key_query</c>).</summary>
    public static PositionEmbeddingType ParsePos(string name) => name switch
    {
        "absolute" => PositionEmbeddingType.Absolute,
        "relative_key" => PositionEmbeddingType.RelativeKey,
        "relative_key_query" => PositionEmbeddingType.RelativeKeyQuery,
        _ => throw new BertConfigException(
            $"position_embedding_type '{name}' is not supported (use absolute, relative_key or relative_key_query)"),
    };

    /// <summary>The <c>position_embedding_type</c> name HF writes for <paramref name="p"/>.</summary>
    public static string PosName(PositionEmbeddingType p) => p switch
    {
        PositionEmbeddingType.Absolute => "absolute",
        PositionEmbeddingType.RelativeKey => "relative_key",
        _ => "relative_key_query",
    };

    /// <summary>The configuration as HF's <c>config.json</c> text (snake_case keys; unknown keys read from the file are kept).</summary>
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

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllText(path, ToJson());
}

/// <summary>A config.json that cannot be used, with the file and the offending key in the message.</summary>
public sealed class BertConfigException(string message, Exception? inner = null) : TorchBertException(message, inner);
