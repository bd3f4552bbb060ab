using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchBert.Tokenization;

public sealed partial class BertTokenizer
{
    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// HF <c>tokenizer.save_pretrained(dir)</c> for a fast BERT tokenizer: <c>vocab.txt</c> (tokens in id order),
    /// <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c> and <c>tokenizer.json</c>, all generated from this
    /// tokenizer's settings (not copied), so the folder loads in TorchBert and in Python's <c>AutoTokenizer</c>.
    /// Each file is written to a temporary name and moved into place.
    /// </summary>
    /// <returns>The names of the files written.</returns>
    public IReadOnlyList<string> SavePretrained(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        var vocab = _model.Vocab.OrderBy(kv => kv.Value).ToList();
        for (int i = 0; i < vocab.Count; i++)
        {
            if (vocab[i].Value != i)
                throw new TokenizerException($"{directory}: the vocabulary has no token with id {i}; vocab.txt needs ids 0..{vocab.Count - 1}");
        }
        var files = new List<string>();
        void Write(string name, string content)
        {
            AtomicFile.WriteAllText(Path.Combine(directory, name), content);
            files.Add(name);
        }

        Write("vocab.txt", string.Concat(vocab.Select(kv => kv.Key + "\n")));
        Write("special_tokens_map.json", SpecialTokensMap().ToJsonString(Indented));
        Write("tokenizer_config.json", TokenizerConfigJson().ToJsonString(Indented));
        Write("tokenizer.json", TokenizerJson(vocab).ToJsonString(Indented));
        return files;
    }

    private JsonObject SpecialTokensMap()
    {
        var o = new JsonObject
        {
            ["cls_token"] = Options.ClsToken,
            ["mask_token"] = Options.MaskToken,
            ["pad_token"] = Options.PadToken,
            ["sep_token"] = Options.SepToken,
            ["unk_token"] = Options.UnkToken,
        };
        if (Options.AdditionalSpecialTokens.Count > 0)
            o["additional_special_tokens"] = new JsonArray(Options.AdditionalSpecialTokens.Select(t => (JsonNode?)t).ToArray());
        return o;
    }

    private IEnumerable<(int Id, string Content, bool Special)> AddedTokensById() =>
        _addedIdToToken.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value, _specialIds.Contains(kv.Key)));

    private static JsonObject AddedToken(string content, bool special, int? id = null)
    {
        var o = new JsonObject();
        if (id is int i) o["id"] = i;
        o["content"] = content;
        o["lstrip"] = false;
        o["normalized"] = !special;
        o["rstrip"] = false;
        o["single_word"] = false;
        o["special"] = special;
        return o;
    }

    private JsonObject TokenizerConfigJson()
    {
        var decoder = new JsonObject();
        foreach (var (id, content, special) in AddedTokensById()) decoder[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = AddedToken(content, special);
        var o = new JsonObject
        {
            ["added_tokens_decoder"] = decoder,
            ["clean_up_tokenization_spaces"] = true,
            ["cls_token"] = Options.ClsToken,
            ["do_lower_case"] = Options.DoLowerCase,
            ["mask_token"] = Options.MaskToken,
            ["model_max_length"] = Options.ModelMaxLength,
            ["pad_token"] = Options.PadToken,
            ["sep_token"] = Options.SepToken,
            ["strip_accents"] = Options.StripAccents,
            ["tokenize_chinese_chars"] = Options.TokenizeChineseChars,
            ["tokenizer_class"] = "BertTokenizer",
            ["unk_token"] = Options.UnkToken,
        };
        if (Options.AdditionalSpecialTokens.Count > 0)
            o["additional_special_tokens"] = new JsonArray(Options.AdditionalSpecialTokens.Select(t => (JsonNode?)t).ToArray());
        return o;
    }

    private JsonObject TokenizerJson(List<KeyValuePair<string, int>> vocab)
    {
        JsonObject Special(string token, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = token, ["type_id"] = typeId } };
        JsonObject Sequence(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        JsonObject SpecialEntry(string token, int id) => new() { ["id"] = token, ["ids"] = new JsonArray(id), ["tokens"] = new JsonArray(token) };
        var cls = Options.ClsToken;
        var sep = Options.SepToken;
        var vocabObject = new JsonObject();
        foreach (var (token, id) in vocab) vocabObject[token] = id;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(AddedTokensById().Select(t => (JsonNode?)AddedToken(t.Content, t.Special, t.Id)).ToArray()),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer",
                ["clean_text"] = Options.CleanText,
                ["handle_chinese_chars"] = Options.TokenizeChineseChars,
                ["strip_accents"] = Options.StripAccents,
                ["lowercase"] = Options.DoLowerCase,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special(cls, 0), Sequence("A", 0), Special(sep, 0)),
                ["pair"] = new JsonArray(Special(cls, 0), Sequence("A", 0), Special(sep, 0), Sequence("B", 1), Special(sep, 1)),
                ["special_tokens"] = new JsonObject { [cls] = SpecialEntry(cls, ClsTokenId), [sep] = SpecialEntry(sep, SepTokenId) },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = Options.ContinuingSubwordPrefix, ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece",
                ["unk_token"] = Options.UnkToken,
                ["continuing_subword_prefix"] = Options.ContinuingSubwordPrefix,
                ["max_input_chars_per_word"] = Options.MaxInputCharsPerWord,
                ["vocab"] = vocabObject,
            },
        };
    }
}
