using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchBert.Tokenization;

/// <summary>What tokenizer.json says, as far as a BERT WordPiece tokenizer goes (null: not said).</summary>
internal sealed record TokenizerJsonFile(
    Dictionary<string, int> Vocab, string? UnkToken, string? ContinuingSubwordPrefix, int? MaxInputCharsPerWord,
    bool CleanText, bool HandleChineseChars, bool? StripAccents, bool Lowercase,
    List<(string Content, int Id, bool Special)> AddedTokens);

/// <summary>What tokenizer_config.json and special_tokens_map.json say (null: not said).</summary>
internal sealed record TokenizerConfig
{
    public bool? DoLowerCase { get; init; }
    public bool? StripAccents { get; init; }
    public bool? TokenizeChineseChars { get; init; }
    public int? ModelMaxLength { get; init; }
    public Dictionary<string, string> SpecialTokens { get; init; } = new();
    public List<string> AdditionalSpecialTokens { get; init; } = [];
    public List<(string Content, int Id, bool Special)> AddedTokens { get; init; } = [];
}

/// <summary>Readers for HF tokenizer files.</summary>
internal static class TokenizerFiles
{
    private static readonly string[] SpecialKeys = ["unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    public static TokenizerJsonFile ReadTokenizerJson(string path)
    {
        JsonObject root = ReadObject(path, required: true)!;
        if (root["model"] is not JsonObject model) throw new TokenizerException($"{path}: no 'model' object");
        string type = Str(model, "type", path) ?? "";
        if (type != "WordPiece")
            throw new TokenizerException($"{path}: model type '{type}' is not supported (only 'WordPiece', as BERT uses)");
        if (model["vocab"] is not JsonObject vocabNode || vocabNode.Count == 0)
            throw new TokenizerException($"{path}: 'model.vocab' is missing or empty");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in vocabNode) vocab[token] = Int(id, $"model.vocab['{token}']", path);

        bool clean = false, chinese = false, lower = false;
        bool? strip = false;
        switch (root["normalizer"])
        {
            case null:
                break;
            case JsonObject n when Str(n, "type", path) == "BertNormalizer":
                clean = Bool(n, "clean_text", path) ?? true;
                chinese = Bool(n, "handle_chinese_chars", path) ?? true;
                strip = Bool(n, "strip_accents", path);
                lower = Bool(n, "lowercase", path) ?? true;
                break;
            case JsonObject n:
                throw new TokenizerException($"{path}: normalizer type '{Str(n, "type", path)}' is not supported (only 'BertNormalizer')");
            default:
                throw new TokenizerException($"{path}: 'normalizer' is not an object");
        }
        if (root["pre_tokenizer"] is JsonObject pre && Str(pre, "type", path) is var preType && preType != "BertPreTokenizer")
            throw new TokenizerException($"{path}: pre_tokenizer type '{preType}' is not supported (only 'BertPreTokenizer')");

        var added = new List<(string, int, bool)>();
        if (root["added_tokens"] is JsonArray list)
        {
            foreach (JsonNode? item in list)
            {
                if (item is not JsonObject o) throw new TokenizerException($"{path}: an 'added_tokens' entry is not an object");
                added.Add((Str(o, "content", path) ?? throw new TokenizerException($"{path}: an added token has no 'content'"),
                    Int(o["id"], "added_tokens id", path), Bool(o, "special", path) ?? false));
            }
        }
        int? maxChars = model["max_input_chars_per_word"] is JsonNode m ? Int(m, "model.max_input_chars_per_word", path) : null;
        return new TokenizerJsonFile(vocab, Str(model, "unk_token", path), Str(model, "continuing_subword_prefix", path),
            maxChars, clean, chinese, strip, lower, added);
    }

    /// <summary>tokenizer_config.json, then special_tokens_map.json for special tokens it does not name.</summary>
    public static TokenizerConfig ReadConfig(string directory)
    {
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        JsonObject config = ReadObject(configPath, required: false) ?? new JsonObject();
        JsonObject map = ReadObject(Path.Combine(directory, "special_tokens_map.json"), required: false) ?? new JsonObject();
        var special = new Dictionary<string, string>();
        foreach (string key in SpecialKeys)
        {
            if (TokenContent(config[key]) is string c) special[key] = c;
            else if (TokenContent(map[key]) is string m) special[key] = m;
        }
        var additional = new List<string>();
        foreach (var source in new[] { config["additional_special_tokens"], map["additional_special_tokens"] })
        {
            if (source is JsonArray a && additional.Count == 0)
                additional.AddRange(a.Select(TokenContent).OfType<string>());
        }
        var added = new List<(string, int, bool)>();
        if (config["added_tokens_decoder"] is JsonObject decoder)
        {
            foreach (var (idText, node) in decoder)
            {
                if (!int.TryParse(idText, out int id) || TokenContent(node) is not string content)
                    throw new TokenizerException($"{configPath}: bad added_tokens_decoder entry '{idText}'");
                added.Add((content, id, node is JsonObject o && (Bool(o, "special", configPath) ?? false)));
            }
        }
        int? maxLength = config["model_max_length"] is JsonValue v && v.TryGetValue(out double d)
            ? (d >= int.MaxValue ? int.MaxValue : (int)d)
            : null;
        return new TokenizerConfig
        {
            DoLowerCase = Bool(config, "do_lower_case", configPath),
            StripAccents = Bool(config, "strip_accents", configPath),
            TokenizeChineseChars = Bool(config, "tokenize_chinese_chars", configPath),
            ModelMaxLength = maxLength,
            SpecialTokens = special,
            AdditionalSpecialTokens = additional,
            AddedTokens = added,
        };
    }

    public static BertTokenizerOptions ApplyConfig(BertTokenizerOptions o, TokenizerConfig c) => o with
    {
        DoLowerCase = c.DoLowerCase ?? o.DoLowerCase,
        StripAccents = c.StripAccents ?? o.StripAccents,
        TokenizeChineseChars = c.TokenizeChineseChars ?? o.TokenizeChineseChars,
        ModelMaxLength = c.ModelMaxLength ?? o.ModelMaxLength,
        UnkToken = c.SpecialTokens.GetValueOrDefault("unk_token", o.UnkToken),
        SepToken = c.SpecialTokens.GetValueOrDefault("sep_token", o.SepToken),
        PadToken = c.SpecialTokens.GetValueOrDefault("pad_token", o.PadToken),
        ClsToken = c.SpecialTokens.GetValueOrDefault("cls_token", o.ClsToken),
        MaskToken = c.SpecialTokens.GetValueOrDefault("mask_token", o.MaskToken),
        AdditionalSpecialTokens = c.AdditionalSpecialTokens.Count > 0 ? c.AdditionalSpecialTokens : o.AdditionalSpecialTokens,
    };

    /// <summary>tokenizer.json's settings, except where tokenizer_config.json already said (as transformers does).</summary>
    public static BertTokenizerOptions ApplyTokenizerJson(BertTokenizerOptions o, TokenizerJsonFile f, TokenizerConfig c) => o with
    {
        DoLowerCase = c.DoLowerCase ?? f.Lowercase,
        StripAccents = c.DoLowerCase is null && c.StripAccents is null ? f.StripAccents : o.StripAccents,
        TokenizeChineseChars = c.TokenizeChineseChars ?? f.HandleChineseChars,
        CleanText = f.CleanText,
        UnkToken = c.SpecialTokens.ContainsKey("unk_token") ? o.UnkToken : f.UnkToken ?? o.UnkToken,
        ContinuingSubwordPrefix = f.ContinuingSubwordPrefix ?? o.ContinuingSubwordPrefix,
        MaxInputCharsPerWord = f.MaxInputCharsPerWord ?? o.MaxInputCharsPerWord,
    };

    private static JsonObject? ReadObject(string path, bool required)
    {
        if (!File.Exists(path))
            return required ? throw new TokenizerException($"{path}: file not found") : null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new TokenizerException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new TokenizerException($"{path}: invalid JSON: {e.Message}", e);
        }
    }

    /// <summary>A special token given as a string or as an AddedToken object with "content".</summary>
    private static string? TokenContent(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject o when o["content"] is JsonValue c && c.TryGetValue(out string? s) => s,
        _ => null,
    };

    private static string? Str(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => throw new TokenizerException($"{path}: '{key}' is not a string"),
    };

    private static bool? Bool(JsonObject o, string key, string path) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        _ => throw new TokenizerException($"{path}: '{key}' is not true/false"),
    };

    private static int Int(JsonNode? node, string what, string path) =>
        node is JsonValue v && v.TryGetValue(out int i) ? i : throw new TokenizerException($"{path}: {what} is not an integer");
}
