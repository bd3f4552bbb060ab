using System.Text;
using MlWordPiece = Microsoft.ML.Tokenizers.WordPieceTokenizer;
using MlWordPieceOptions = Microsoft.ML.Tokenizers.WordPieceOptions;

namespace TorchBert.Tokenization;

/// <summary>
/// One token of a sequence: vocabulary id, token string, [Start, End) span in the original text and the index of
/// the word it came from (HF <c>word_ids</c>: pre-tokenized words and special tokens found in the text, counted in order).
/// </summary>
internal readonly record struct Piece(int Id, string Token, int Start, int End, int Word);

/// <summary>
/// The vocabulary plus WordPiece (greedy longest-match-first, <c>##</c> continuation, a word with any unmatchable
/// piece → one unk token). The matching itself is Microsoft.ML.Tokenizers' <c>WordPieceTokenizer</c>, called one
/// pre-tokenized word at a time with its own normalization and pre-tokenization off; it is HF's algorithm except
/// that it measures max_input_chars_per_word in UTF-16 units where HF counts characters (code points), so the
/// length check is done here and the library's limit is set high enough never to trigger first.
/// </summary>
internal sealed class WordPieceModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _idToToken;
    private readonly MlWordPiece _library;
    private readonly int[] _libraryIdToId;

    /// <param name="vocab">token → id (HF semantics: a later duplicate overrides an earlier one).</param>
    public WordPieceModel(Dictionary<string, int> vocab, string unkToken, string continuingSubwordPrefix,
        int maxInputCharsPerWord, string source)
    {
        if (vocab.Count == 0) throw new TokenizerException($"{source}: the vocabulary is empty");
        if (!vocab.TryGetValue(unkToken, out int unkId))
            throw new TokenizerException($"{source}: the unknown token '{unkToken}' is not in the vocabulary");
        if (maxInputCharsPerWord is <= 0 or > MaxSupportedCharsPerWord)
            throw new TokenizerException(
                $"{source}: max_input_chars_per_word must be in 1..{MaxSupportedCharsPerWord}, got {maxInputCharsPerWord}");
        _vocab = vocab;
        _idToToken = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab) _idToToken[id] = token;
        UnkToken = unkToken;
        UnkId = unkId;
        ContinuingSubwordPrefix = continuingSubwordPrefix;
        MaxInputCharsPerWord = maxInputCharsPerWord;

        // The library reads "one token per line, id = line number"; our ids may be sparse or come from
        // tokenizer.json, so it gets its own dense numbering, translated back through _libraryIdToId.
        // Tokens with a line break cannot be written, and can never match a word (words hold no whitespace).
        var lines = new StringBuilder();
        var libraryIds = new List<int>(vocab.Count);
        foreach (var (token, id) in vocab)
        {
            if (token.Length == 0 || token.AsSpan().IndexOfAny('\n', '\r') >= 0) continue;
            lines.Append(token).Append('\n');
            libraryIds.Add(id);
        }
        _libraryIdToId = libraryIds.ToArray();
        using var stream = new MemoryStream(new UTF8Encoding(false).GetBytes(lines.ToString()));
        _library = MlWordPiece.Create(stream, new MlWordPieceOptions
        {
            UnknownToken = unkToken,
            ContinuingSubwordPrefix = continuingSubwordPrefix,
            // A word of at most N code points has at most 2N UTF-16 chars: the library never gives up first.
            MaxInputCharsPerWord = 2 * maxInputCharsPerWord,
        });
    }

    /// <summary>The library sizes a per-word buffer by the limit, so absurd limits are refused.</summary>
    public const int MaxSupportedCharsPerWord = 65536;

    public string UnkToken { get; }
    public int UnkId { get; }
    public string ContinuingSubwordPrefix { get; }
    public int MaxInputCharsPerWord { get; }
    public int Count => _vocab.Count;
    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    public bool TryGetId(string token, out int id) => _vocab.TryGetValue(token, out id);
    public bool TryGetToken(int id, out string token) => _idToToken.TryGetValue(id, out token!);

    /// <summary>
    /// WordPiece of one word. <paramref name="starts"/>/<paramref name="ends"/> map each char of
    /// <paramref name="word"/> to its original span; the pieces get the spans of the chars they cover and
    /// <paramref name="wordIndex"/>.
    /// </summary>
    public void Tokenize(string word, ReadOnlySpan<int> starts, ReadOnlySpan<int> ends, int wordIndex, List<Piece> output)
    {
        int codePoints = 0;
        foreach (Rune _ in word.EnumerateRunes()) codePoints++;
        if (codePoints > MaxInputCharsPerWord)
        {
            output.Add(new Piece(UnkId, UnkToken, starts[0], ends[^1], wordIndex));
            return;
        }
        var tokens = _library.EncodeToTokens(word, out _, considerPreTokenization: false, considerNormalization: false);
        foreach (var t in tokens)
        {
            var (offset, length) = t.Offset.GetOffsetAndLength(word.Length);
            output.Add(new Piece(_libraryIdToId[t.Id], t.Value, starts[offset], ends[offset + length - 1], wordIndex));
        }
    }
}
