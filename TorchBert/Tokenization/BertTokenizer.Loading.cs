namespace TorchBert.Tokenization;

public sealed partial class BertTokenizer
{
    /// <summary>
    /// The files of a tokenizer folder, as transformers' BertTokenizer(Fast) reads and saves them:
    /// <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>, <c>vocab.txt</c>, <c>tokenizer.json</c>,
    /// <c>added_tokens.json</c>. The Hub download, the converter and the trainer's checkpoints use this one list.
    /// </summary>
    public static IReadOnlyList<string> FileNames { get; } =
        ["tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "tokenizer.json", "added_tokens.json"];

    /// <summary>
    /// Loads a WordPiece <c>vocab.txt</c> (one token per line, id = line index from 0), as HF's
    /// <c>BertTokenizerFast(vocab_file=...)</c>.
    /// </summary>
    /// <exception cref="TokenizerException">The file is missing, empty, or lacks a special token.</exception>
    public static BertTokenizer FromVocabFile(string path, BertTokenizerOptions? options = null) =>
        Create(ReadVocabFile(path), options ?? new BertTokenizerOptions(), addedTokens: null, path);

    /// <summary>
    /// Loads a <c>vocab.txt</c> with HF's <c>do_lower_case</c> (false for cased models such as bert-base-cased).
    /// </summary>
    public static BertTokenizer FromVocabFile(string path, bool doLowerCase) =>
        FromVocabFile(path, new BertTokenizerOptions { DoLowerCase = doLowerCase });

    /// <summary>
    /// A tokenizer over <paramref name="tokens"/> in id order (token i has id i; a repeated token keeps its
    /// last id, as HF's <c>load_vocab</c>).
    /// </summary>
    /// <exception cref="TokenizerException">The vocabulary is empty or lacks a special token.</exception>
    public static BertTokenizer FromVocab(IEnumerable<string> tokens, BertTokenizerOptions? options = null) =>
        Create(ToVocab(tokens, "vocabulary"), options ?? new BertTokenizerOptions(), addedTokens: null, "vocabulary");

    private static Dictionary<string, int> ReadVocabFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new TokenizerException($"{path}: vocabulary file not found");
        try
        {
            // ReadAllLines splits on \n, \r\n and \r like Python's universal newlines in HF's load_vocab.
            return ToVocab(File.ReadAllLines(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"{path}: cannot read the vocabulary file: {e.Message}", e);
        }
    }

    private static Dictionary<string, int> ToVocab(IEnumerable<string> tokens, string source)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int index = 0;
        foreach (string token in tokens)
            vocab[token ?? throw new TokenizerException($"{source}: token {index} is null")] = index++;
        if (vocab.Count == 0) throw new TokenizerException($"{source}: the vocabulary is empty");
        return vocab;
    }

    /// <summary>
    /// Loads an HF <c>tokenizer.json</c> whose model is WordPiece: its <c>model.vocab</c>, <c>unk_token</c>,
    /// <c>continuing_subword_prefix</c>, <c>max_input_chars_per_word</c>, the BertNormalizer flags
    /// (<c>lowercase</c>, <c>strip_accents</c>, <c>handle_chinese_chars</c>, <c>clean_text</c>) and
    /// <c>added_tokens</c>. Use <see cref="FromFolder"/> to also read tokenizer_config.json.
    /// </summary>
    /// <exception cref="TokenizerException">The file is missing, not valid JSON, or not a BERT WordPiece tokenizer.</exception>
    public static BertTokenizer FromTokenizerJson(string path)
    {
        var file = TokenizerFiles.ReadTokenizerJson(path);
        var config = new TokenizerConfig();
        return Create(file.Vocab, TokenizerFiles.ApplyTokenizerJson(new BertTokenizerOptions(), file, config),
            file.AddedTokens, path);
    }

    /// <summary>
    /// Loads a saved HF tokenizer folder as <c>AutoTokenizer.from_pretrained(dir)</c> would for BERT:
    /// <c>vocab.txt</c>, or <c>tokenizer.json</c> with a WordPiece model when there is no vocab.txt; settings from
    /// <c>tokenizer_config.json</c> (<c>do_lower_case</c>, <c>strip_accents</c>, <c>tokenize_chinese_chars</c>,
    /// <c>model_max_length</c>, special tokens) and <c>special_tokens_map.json</c> when present. A
    /// tokenizer_config.json setting wins over tokenizer.json's normalizer, as in transformers.
    /// </summary>
    /// <exception cref="TokenizerException">The folder has neither file, or a file is invalid.</exception>
    public static BertTokenizer FromFolder(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory)) throw new TokenizerException($"{directory}: tokenizer folder not found");
        string vocabPath = Path.Combine(directory, "vocab.txt");
        string jsonPath = Path.Combine(directory, "tokenizer.json");
        var config = TokenizerFiles.ReadConfig(directory);
        var options = TokenizerFiles.ApplyConfig(new BertTokenizerOptions(), config);
        if (File.Exists(vocabPath)) return Create(ReadVocabFile(vocabPath), options, config.AddedTokens, vocabPath);
        if (!File.Exists(jsonPath))
            throw new TokenizerException($"{directory}: no vocab.txt or tokenizer.json in the tokenizer folder");
        var file = TokenizerFiles.ReadTokenizerJson(jsonPath);
        return Create(file.Vocab, TokenizerFiles.ApplyTokenizerJson(options, file, config), file.AddedTokens, jsonPath);
    }

    private static BertTokenizer Create(Dictionary<string, int> vocab, BertTokenizerOptions options,
        IReadOnlyList<(string Content, int Id, bool Special)>? addedTokens, string source)
    {
        var model = new WordPieceModel(vocab, options.UnkToken, options.ContinuingSubwordPrefix,
            options.MaxInputCharsPerWord, source);
        return new BertTokenizer(model, options, addedTokens, source);
    }
}
