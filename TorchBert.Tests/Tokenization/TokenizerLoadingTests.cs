using System.Text.Json.Nodes;
using TorchBert.Tokenization;
using static TorchBert.Tests.Tokenization.TokenizerFixture;

namespace TorchBert.Tests.Tokenization;

public sealed class TokenizerLoadingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("torchbert-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Samples =
    [
        "Hello, Mr. Bert! How is it [MASK]?", "Café naïve résumé 我爱北京", "$100+ <tag> a|b ~x^y =z", "unaffable 😀 zero\u200bwidth",
    ];

    /// <summary>bert-base-uncased's tokenizer.json layout, with <paramref name="lowercase"/> for the normalizer.</summary>
    private static JsonObject TokenizerJson(bool lowercase = true, string modelType = "WordPiece")
    {
        var vocab = new JsonObject();
        string[] tokens = Tokens();
        for (int i = 0; i < tokens.Length; i++) vocab[tokens[i]] = i;
        var added = new JsonArray();
        foreach (var (content, id) in new[] { ("[PAD]", 0), ("[UNK]", 100), ("[CLS]", 101), ("[SEP]", 102), ("[MASK]", 103) })
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["normalized"] = false, ["special"] = true });
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true,
                ["strip_accents"] = null, ["lowercase"] = lowercase,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = modelType, ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = 100, ["vocab"] = vocab,
            },
        };
    }

    private string Write(string name, JsonNode json)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Fact]
    public void Tokenizer_json_gives_the_same_ids_as_vocab_txt()
    {
        var fromJson = BertTokenizer.FromTokenizerJson(Write("tokenizer.json", TokenizerJson()));
        var fromFolder = BertTokenizer.FromFolder(_dir);
        fromJson.VocabSize.Should().Be(30522);
        foreach (string text in Samples)
        {
            fromJson.Encode(text, "pair text").InputIds.Should().Equal(Uncased.Encode(text, "pair text").InputIds);
            fromFolder.Encode(text).InputIds.Should().Equal(Uncased.Encode(text).InputIds);
        }
    }

    [Fact]
    public void Tokenizer_json_normalizer_settings_are_used_unless_tokenizer_config_says_otherwise()
    {
        Write("tokenizer.json", TokenizerJson(lowercase: false));
        BertTokenizer.FromFolder(_dir).Encode("Hello").InputIds.Should().Equal(101, 100, 102);

        Write("tokenizer_config.json", new JsonObject { ["do_lower_case"] = true, ["model_max_length"] = 128 });
        var configured = BertTokenizer.FromFolder(_dir);
        configured.Encode("Hello").InputIds.Should().Equal(101, 7592, 102);
        configured.ModelMaxLength.Should().Be(128);
    }

    [Fact]
    public void Folder_with_vocab_txt_reads_tokenizer_config()
    {
        File.Copy(VocabPath, Path.Combine(_dir, "vocab.txt"));
        Write("tokenizer_config.json", new JsonObject
        {
            ["do_lower_case"] = false, ["model_max_length"] = 1e30, ["mask_token"] = new JsonObject { ["content"] = "[MASK]" },
        });
        var tokenizer = BertTokenizer.FromFolder(_dir);
        tokenizer.Options.DoLowerCase.Should().BeFalse();
        tokenizer.ModelMaxLength.Should().Be(int.MaxValue, "HF's 'no limit' (1e30)");
        tokenizer.Encode("Hello [MASK]").InputIds.Should().Equal(101, 100, 103, 102);
    }

    [Fact]
    public void Vocab_list_and_file_agree()
    {
        var fromList = BertTokenizer.FromVocab(Tokens());
        fromList.Encode(Samples[0]).InputIds.Should().Equal(Uncased.Encode(Samples[0]).InputIds);
    }

    [Fact]
    public void Missing_or_empty_vocabulary_is_an_error_naming_the_file()
    {
        string missing = Path.Combine(_dir, "nope.txt");
        var act = () => BertTokenizer.FromVocabFile(missing);
        act.Should().Throw<TokenizerException>().WithMessage($"{missing}*not found*");

        string empty = Path.Combine(_dir, "empty.txt");
        File.WriteAllText(empty, "");
        act = () => BertTokenizer.FromVocabFile(empty);
        act.Should().Throw<TokenizerException>().WithMessage($"{empty}*empty*");

        var noFiles = () => BertTokenizer.FromFolder(_dir);
        noFiles.Should().Throw<TokenizerException>().WithMessage("*no vocab.txt or tokenizer.json*");
    }

    [Fact]
    public void Vocabulary_without_a_special_token_is_an_error()
    {
        var act = () => BertTokenizer.FromVocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello"]);
        act.Should().Throw<TokenizerException>().WithMessage("*mask_token '[MASK]' is not in the vocabulary*");
        act = () => BertTokenizer.FromVocab(["[PAD]", "[CLS]", "[SEP]", "[MASK]"]);
        act.Should().Throw<TokenizerException>().WithMessage("*unknown token '[UNK]'*");
    }

    [Fact]
    public void Tokenizer_json_that_is_not_wordpiece_is_rejected()
    {
        string bpe = Write("bpe.json", TokenizerJson(modelType: "BPE"));
        var act = () => BertTokenizer.FromTokenizerJson(bpe);
        act.Should().Throw<TokenizerException>().WithMessage($"{bpe}*model type 'BPE'*WordPiece*");

        string broken = Path.Combine(_dir, "broken.json");
        File.WriteAllText(broken, "{ not json");
        act = () => BertTokenizer.FromTokenizerJson(broken);
        act.Should().Throw<TokenizerException>().WithMessage($"{broken}*invalid JSON*");
    }

    [Fact]
    public void Tokenizer_json_added_tokens_beyond_the_vocabulary_are_kept_whole()
    {
        JsonObject json = TokenizerJson();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 30522, ["content"] = "<ent>", ["special"] = true });
        var tokenizer = BertTokenizer.FromTokenizerJson(Write("tokenizer.json", json));
        BertEncoding e = tokenizer.Encode("hello<ent>world");
        e.InputIds.Should().Equal(101, 7592, 30522, 2088, 102);
        tokenizer.ConvertIdToToken(30522).Should().Be("<ent>");
        tokenizer.Decode(e.InputIds, skipSpecialTokens: true).Should().Be("hello world");
        tokenizer.VocabSize.Should().Be(30522);
    }
}
