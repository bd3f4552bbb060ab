using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchBert.Configuration;

/// <summary>A sentence-transformers file of a model folder that is malformed or asks for something TorchBert cannot run; the message names the file.</summary>
public sealed class SentenceTransformerConfigException(string message, Exception? inner = null) : TorchBertException(message, inner);

/// <summary>
/// How token embeddings become one sentence vector: sentence-transformers' <c>Pooling</c> modes
/// (<c>1_Pooling/config.json</c>'s <c>pooling_mode_*</c> flags).
/// </summary>
public enum Pooling
{
    /// <summary>Mean of the attended tokens' vectors (<c>pooling_mode_mean_tokens</c>).</summary>
    Mean,
    /// <summary>The first token's ([CLS]) vector (<c>pooling_mode_cls_token</c>): bge, gte, arctic-embed.</summary>
    Cls,
    /// <summary>Per-dimension maximum over the attended tokens (<c>pooling_mode_max_tokens</c>).</summary>
    Max,
    /// <summary>Sum of the attended tokens' vectors divided by √(token count) (<c>pooling_mode_mean_sqrt_len_tokens</c>).</summary>
    MeanSqrtLen,
    /// <summary>Position-weighted mean, weight = position + 1 (<c>pooling_mode_weightedmean_tokens</c>).</summary>
    WeightedMean,
    /// <summary>The last attended token's vector (<c>pooling_mode_lasttoken</c>).</summary>
    LastToken,
}

/// <summary>
/// What a sentence-transformers model folder says about turning token vectors into a sentence embedding, read as
/// sentence-transformers' <c>SentenceTransformer</c> reads it: <c>modules.json</c> (a <c>Transformer</c>, a
/// <c>Pooling</c> module whose <c>config.json</c> names the pooling, an optional <c>Normalize</c>),
/// <c>sentence_bert_config.json</c> (<c>max_seq_length</c>, <c>do_lower_case</c>) and
/// <c>config_sentence_transformers.json</c> (<c>prompts</c>, <c>default_prompt_name</c>).
/// A folder without <c>modules.json</c> gets <see cref="Default"/> (mean pooling, normalized: TorchBert's default, ready
/// for cosine similarity; sentence-transformers itself would not normalize such a plain model: set
/// <see cref="Normalize"/> = false for that). Override any field with a <c>with</c> expression.
/// </summary>
public sealed record SentenceTransformerConfig
{
    /// <summary>sentence-transformers' module list file.</summary>
    public const string ModulesFile = "modules.json";
    /// <summary>The Transformer module's settings (<c>max_seq_length</c>, <c>do_lower_case</c>).</summary>
    public const string SentenceBertConfigFile = "sentence_bert_config.json";
    /// <summary>The model-level settings (<c>prompts</c>, <c>default_prompt_name</c>, versions).</summary>
    public const string ModelConfigFile = "config_sentence_transformers.json";

    /// <summary>The files at the top of a model folder that sentence-transformers reads (module folders come from <see cref="ModulesFile"/>).</summary>
    public static IReadOnlyList<string> TopLevelFiles { get; } = [ModulesFile, SentenceBertConfigFile, ModelConfigFile];

    private const string TransformerType = "sentence_transformers.models.Transformer";
    private const string PoolingType = "sentence_transformers.models.Pooling";
    private const string NormalizeType = "sentence_transformers.models.Normalize";

    /// <summary>TorchBert's defaults for a folder that has no <c>modules.json</c>: mean pooling, normalized, no prompts.</summary>
    public static SentenceTransformerConfig Default { get; } = new();

    /// <summary>Pooling modes, concatenated in this order (sentence-transformers' order: cls, max, mean, mean_sqrt_len, weightedmean, lasttoken).</summary>
    public IReadOnlyList<Pooling> PoolingModes { get; init; } = [Pooling.Mean];
    /// <summary>L2-normalize the sentence vector (a <c>Normalize</c> module in <c>modules.json</c>).</summary>
    public bool Normalize { get; init; } = true;
    /// <summary><c>include_prompt</c> of the pooling config: false = the prompt's tokens (and [CLS]) are left out of the pooling.</summary>
    public bool IncludePrompt { get; init; } = true;
    /// <summary><c>max_seq_length</c>: inputs are cut to this many tokens; null = the model's limit.</summary>
    public int? MaxSeqLength { get; init; }
    /// <summary><c>do_lower_case</c> of <c>sentence_bert_config.json</c>: texts are lower-cased before tokenizing.</summary>
    public bool DoLowerCase { get; init; }
    /// <summary>Named prompts (<c>prompts</c>), e.g. <c>query</c> → <c>"query: "</c>: prepended to the text.</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; init; } = new Dictionary<string, string>();
    /// <summary>The prompt used when a call names none (<c>default_prompt_name</c>); null = no prompt.</summary>
    public string? DefaultPromptName { get; init; }
    /// <summary><c>word_embedding_dimension</c> of the pooling config, when it says (checked against the model's hidden size).</summary>
    public int? WordEmbeddingDimension { get; init; }
    /// <summary>Whether a <c>modules.json</c> decided this configuration (false: <see cref="Default"/>).</summary>
    public bool FromModulesFile { get; init; }

    /// <summary>The pooling as sentence-transformers writes it (<c>cls</c>, <c>mean</c>, <c>max</c>, <c>mean_sqrt_len_tokens</c>, ... joined by '+').</summary>
    public string PoolingName => string.Join('+', PoolingModes.Select(Name));

    /// <summary>sentence-transformers' name of one pooling mode (as <c>Pooling.get_pooling_mode_str</c>).</summary>
    public static string Name(Pooling mode) => mode switch
    {
        Pooling.Cls => "cls",
        Pooling.Mean => "mean",
        Pooling.Max => "max",
        Pooling.MeanSqrtLen => "mean_sqrt_len_tokens",
        Pooling.WeightedMean => "weightedmean",
        Pooling.LastToken => "lasttoken",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown pooling mode"),
    };

    /// <summary>
    /// Parses a pooling name as TEI's <c>--pooling</c> and sentence-transformers' <c>pooling_mode</c> take it:
    /// <c>cls</c>, <c>mean</c>, <c>max</c>, <c>mean_sqrt_len</c> (or <c>mean_sqrt_len_tokens</c>), <c>weightedmean</c>,
    /// <c>lasttoken</c> (case-insensitive); null when it is none of them.
    /// </summary>
    public static Pooling? ParsePooling(string name) => name.Trim().ToLowerInvariant() switch
    {
        "cls" => Pooling.Cls,
        "mean" => Pooling.Mean,
        "max" => Pooling.Max,
        "mean_sqrt_len" or "mean_sqrt_len_tokens" => Pooling.MeanSqrtLen,
        "weightedmean" => Pooling.WeightedMean,
        "lasttoken" or "last_token" => Pooling.LastToken,
        _ => null,
    };

    /// <summary>
    /// The prompt a call uses, as <c>SentenceTransformer.encode</c> picks it: <paramref name="prompt"/> when given
    /// (<c>""</c> = no prompt), else the prompt named <paramref name="promptName"/> (an unknown name is an
    /// <see cref="ArgumentException"/> listing the known ones), else the <see cref="DefaultPromptName"/>'s, else none (null).
    /// </summary>
    public string? ResolvePrompt(string? promptName = null, string? prompt = null)
    {
        if (prompt is not null) return prompt.Length == 0 ? null : prompt;
        if (promptName is not null)
            return Prompts.TryGetValue(promptName, out var p)
                ? (p.Length == 0 ? null : p)
                : throw new ArgumentException(Prompts.Count == 0
                    ? $"prompt name '{promptName}' is unknown: the model defines no prompts (config_sentence_transformers.json)"
                    : $"prompt name '{promptName}' is not one of the model's prompts ({string.Join(", ", Prompts.Keys.Select(k => $"'{k}'"))})");
        return DefaultPromptName is not null && Prompts.TryGetValue(DefaultPromptName, out var d) && d.Length > 0 ? d : null;
    }

    /// <summary>
    /// Reads a model folder (or the folder of a file in it, e.g. a <c>model.onnx</c>). Missing <c>modules.json</c> →
    /// <see cref="Default"/>, still taking <c>sentence_bert_config.json</c> and prompts when present. A malformed file,
    /// a Pooling module without its <c>config.json</c>, or a module TorchBert cannot run (Dense, LayerNorm, ...) is an
    /// <see cref="SentenceTransformerConfigException"/> naming the file.
    /// </summary>
    public static SentenceTransformerConfig Read(string modelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var folder = File.Exists(modelPath) ? Path.GetDirectoryName(Path.GetFullPath(modelPath))! : modelPath;
        var config = Default;
        var transformerPath = "";
        var modulesFile = Path.Combine(folder, ModulesFile);
        if (ReadJson(modulesFile) is { } modulesNode)
        {
            if (modulesNode is not JsonArray modules) throw new SentenceTransformerConfigException($"{modulesFile}: expected a JSON list of modules");
            bool transformer = false, pooling = false, normalize = false;
            foreach (var m in modules)
            {
                if (m is not JsonObject o) throw new SentenceTransformerConfigException($"{modulesFile}: a module entry is not an object");
                var type = Str(o, "type", modulesFile) ?? throw new SentenceTransformerConfigException($"{modulesFile}: a module has no 'type'");
                var path = Str(o, "path", modulesFile) ?? "";
                if (path.Split('/', '\\').Any(s => s == "..") || Path.IsPathRooted(path))
                    throw new SentenceTransformerConfigException($"{modulesFile}: module path '{path}' is not a relative path inside the model folder");
                // sentence-transformers >= 3 also writes the short names (no package prefix)
                var shortType = type.StartsWith("sentence_transformers.models.", StringComparison.Ordinal) ? type : "sentence_transformers.models." + type;
                switch (shortType)
                {
                    case TransformerType when !transformer && !pooling:
                        transformer = true;
                        transformerPath = path;
                        break;
                    case PoolingType when transformer && !pooling:
                        pooling = true;
                        config = ReadPooling(Path.Combine(folder, path), config);
                        break;
                    case NormalizeType when pooling && !normalize:
                        normalize = true;
                        break;
                    default:
                        throw new SentenceTransformerConfigException(
                            $"{modulesFile}: module '{type}' at position {modules.IndexOf(m)} is not supported (TorchBert runs Transformer → Pooling → optional Normalize)");
                }
            }
            if (!transformer) throw new SentenceTransformerConfigException($"{modulesFile}: no sentence_transformers.models.Transformer module");
            if (!pooling) throw new SentenceTransformerConfigException($"{modulesFile}: no sentence_transformers.models.Pooling module, so the model makes no sentence embedding");
            config = config with { Normalize = normalize, FromModulesFile = true };
        }
        config = ReadSentenceBertConfig(Path.Combine(folder, transformerPath, SentenceBertConfigFile), config);
        return ReadModelConfig(Path.Combine(folder, ModelConfigFile), config);
    }

    /// <summary>
    /// The files of <paramref name="folder"/> that sentence-transformers reads, relative to it: <see cref="TopLevelFiles"/>
    /// that exist and every file of each non-Transformer module's folder named in <c>modules.json</c> (e.g.
    /// <c>1_Pooling/config.json</c>). <c>convert</c> copies them so the converted folder embeds as its source.
    /// </summary>
    public static IReadOnlyList<string> FilesIn(string folder)
    {
        var files = TopLevelFiles.Where(f => File.Exists(Path.Combine(folder, f))).ToList();
        var modulesFile = Path.Combine(folder, ModulesFile);
        if (ReadJson(modulesFile) is not JsonArray modules) return files;
        foreach (var m in modules.OfType<JsonObject>())
        {
            var path = Str(m, "path", modulesFile) ?? "";
            if (path.Length == 0 || path.Split('/', '\\').Any(s => s == "..") || Path.IsPathRooted(path)) continue;
            var dir = Path.Combine(folder, path);
            if (!Directory.Exists(dir)) continue;
            foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                files.Add(Path.GetRelativePath(folder, f).Replace('\\', '/'));
        }
        return files;
    }

    /// <summary>The module folders <c>modules.json</c> names (e.g. <c>1_Pooling</c>, <c>2_Normalize</c>); empty without one.</summary>
    public static IReadOnlyList<string> ModuleFolders(string folder)
    {
        var modulesFile = Path.Combine(folder, ModulesFile);
        if (ReadJson(modulesFile) is not JsonArray modules) return [];
        return modules.OfType<JsonObject>().Select(m => Str(m, "path", modulesFile) ?? "")
            .Where(p => p.Length > 0 && !p.Split('/', '\\').Any(s => s == "..") && !Path.IsPathRooted(p)).ToList();
    }

    private static SentenceTransformerConfig ReadPooling(string dir, SentenceTransformerConfig config)
    {
        var file = Path.Combine(dir, "config.json");
        if (ReadJson(file) is not { } node)
            throw new SentenceTransformerConfigException($"{file}: not found; modules.json names a Pooling module there and sentence-transformers reads its pooling from it");
        if (node is not JsonObject o) throw new SentenceTransformerConfigException($"{file}: not a JSON object");
        var modes = new List<Pooling>();
        if (Str(o, "pooling_mode", file) is { } mode)
        {
            // sentence-transformers' pooling_mode string overrides the flags
            modes.Add(ParsePooling(mode) ?? throw new SentenceTransformerConfigException($"{file}: pooling_mode '{mode}' is not one of cls, mean, max, mean_sqrt_len_tokens, weightedmean, lasttoken"));
        }
        else
        {
            // Pooling's constructor defaults: mean on, the others off; concatenated in forward()'s order
            (string Key, Pooling Mode, bool Default)[] flags =
            [
                ("pooling_mode_cls_token", Pooling.Cls, false), ("pooling_mode_max_tokens", Pooling.Max, false),
                ("pooling_mode_mean_tokens", Pooling.Mean, true), ("pooling_mode_mean_sqrt_len_tokens", Pooling.MeanSqrtLen, false),
                ("pooling_mode_weightedmean_tokens", Pooling.WeightedMean, false), ("pooling_mode_lasttoken", Pooling.LastToken, false),
            ];
            foreach (var (key, m, dflt) in flags)
                if (Bool(o, key, file) ?? dflt) modes.Add(m);
        }
        foreach (var key in o.Select(p => p.Key).Where(k => k.StartsWith("pooling_mode_", StringComparison.Ordinal)))
            if (key is not ("pooling_mode_cls_token" or "pooling_mode_max_tokens" or "pooling_mode_mean_tokens" or "pooling_mode_mean_sqrt_len_tokens"
                    or "pooling_mode_weightedmean_tokens" or "pooling_mode_lasttoken") && Bool(o, key, file) == true)
                throw new SentenceTransformerConfigException($"{file}: {key} is not supported");
        if (modes.Count == 0) throw new SentenceTransformerConfigException($"{file}: every pooling_mode_* is false: no sentence embedding");
        int? dim = o["word_embedding_dimension"] is JsonNode d ? Int(d, "word_embedding_dimension", file) : null;
        return config with { PoolingModes = modes, IncludePrompt = Bool(o, "include_prompt", file) ?? true, WordEmbeddingDimension = dim };
    }

    private static SentenceTransformerConfig ReadSentenceBertConfig(string file, SentenceTransformerConfig config)
    {
        if (ReadJson(file) is not { } node) return config;
        if (node is not JsonObject o) throw new SentenceTransformerConfigException($"{file}: not a JSON object");
        int? max = o["max_seq_length"] is JsonNode m && m.GetValueKind() != JsonValueKind.Null ? Int(m, "max_seq_length", file) : null;
        if (max is <= 0) throw new SentenceTransformerConfigException($"{file}: max_seq_length must be > 0, got {max}");
        return config with { MaxSeqLength = max, DoLowerCase = Bool(o, "do_lower_case", file) ?? false };
    }

    private static SentenceTransformerConfig ReadModelConfig(string file, SentenceTransformerConfig config)
    {
        if (ReadJson(file) is not { } node) return config;
        if (node is not JsonObject o) throw new SentenceTransformerConfigException($"{file}: not a JSON object");
        var prompts = new Dictionary<string, string>(StringComparer.Ordinal);
        switch (o["prompts"])
        {
            case null:
                break;
            case JsonObject p:
                foreach (var (name, value) in p)
                    prompts[name] = value is JsonValue v && v.TryGetValue(out string? s) ? s : throw new SentenceTransformerConfigException($"{file}: prompt '{name}' is not a string");
                break;
            default:
                throw new SentenceTransformerConfigException($"{file}: 'prompts' is not an object of name → prompt text");
        }
        var defaultName = Str(o, "default_prompt_name", file);
        if (defaultName is not null && !prompts.ContainsKey(defaultName))
            throw new SentenceTransformerConfigException($"{file}: default_prompt_name '{defaultName}' is not one of its prompts ({string.Join(", ", prompts.Keys)})");
        return config with { Prompts = prompts, DefaultPromptName = defaultName };
    }

    private static JsonNode? ReadJson(string file)
    {
        if (!File.Exists(file)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(file)) ?? throw new SentenceTransformerConfigException($"{file}: empty (null) JSON");
        }
        catch (JsonException e)
        {
            throw new SentenceTransformerConfigException($"{file}: invalid JSON ({e.Message})", e);
        }
    }

    private static string? Str(JsonObject o, string key, string file) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => throw new SentenceTransformerConfigException($"{file}: '{key}' is not a string"),
    };

    private static bool? Bool(JsonObject o, string key, string file) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        _ => throw new SentenceTransformerConfigException($"{file}: '{key}' is not true/false"),
    };

    private static int Int(JsonNode node, string what, string file) =>
        node is JsonValue v && v.TryGetValue(out int i) ? i
        : node is JsonValue d && d.TryGetValue(out double x) && x == Math.Floor(x) && x is >= int.MinValue and <= int.MaxValue ? (int)x
        : throw new SentenceTransformerConfigException($"{file}: {what} is not an integer");
}
