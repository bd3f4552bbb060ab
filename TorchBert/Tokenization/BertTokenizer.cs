namespace TorchBert.Tokenization;

/// <summary>
/// HF's fast BERT tokenizer (<c>AutoTokenizer</c> for bert-base-*: BertNormalizer + BertPreTokenizer + WordPiece +
/// <c>[CLS] A [SEP] B [SEP]</c> template), producing the same ids. Normalization and pre-tokenization are ported
/// here; the WordPiece matching is Microsoft.ML.Tokenizers'. Outputs are plain arrays (no TorchSharp).
/// Instances are immutable and thread-safe.
/// </summary>
public sealed partial class BertTokenizer
{
    private readonly WordPieceModel _model;
    private readonly BertNormalizer _normalizer;
    private readonly SpecialTokenSplitter _splitter;
    private readonly Dictionary<string, int> _addedTokens;   // split out of the text before normalization
    private readonly Dictionary<int, string> _addedIdToToken;
    private readonly HashSet<int> _specialIds;                // skipped by Decode(skipSpecialTokens: true)

    internal BertTokenizer(WordPieceModel model, BertTokenizerOptions options,
        IReadOnlyList<(string Content, int Id, bool Special)>? addedTokens, string source)
    {
        _model = model;
        Options = options;
        if (options.ModelMaxLength <= 0)
            throw new TokenizerException($"{source}: model_max_length must be > 0, got {options.ModelMaxLength}");
        _normalizer = new BertNormalizer(options.CleanText, options.TokenizeChineseChars, options.StripAccents,
            options.DoLowerCase);
        _addedTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        _addedIdToToken = new Dictionary<int, string>();
        _specialIds = new HashSet<int>();
        foreach (var (content, id, special) in addedTokens ?? [])
            AddToken(content, id, special);
        int Special(string token, string name)
        {
            if (!_addedTokens.TryGetValue(token, out int id) && !model.TryGetId(token, out id))
                throw new TokenizerException($"{source}: {name} '{token}' is not in the vocabulary");
            AddToken(token, id, special: true);
            return id;
        }
        UnkTokenId = Special(options.UnkToken, "unk_token");
        SepTokenId = Special(options.SepToken, "sep_token");
        PadTokenId = Special(options.PadToken, "pad_token");
        ClsTokenId = Special(options.ClsToken, "cls_token");
        MaskTokenId = Special(options.MaskToken, "mask_token");
        foreach (string token in options.AdditionalSpecialTokens) Special(token, "additional special token");
        _splitter = new SpecialTokenSplitter(_addedTokens);
    }

    private void AddToken(string content, int id, bool special)
    {
        _addedTokens[content] = id;
        _addedIdToToken[id] = content;
        if (special) _specialIds.Add(id);
    }

    /// <summary>The settings this tokenizer was built with.</summary>
    public BertTokenizerOptions Options { get; }

    /// <summary>HF <c>vocab_size</c>: the WordPiece vocabulary, without added tokens beyond it.</summary>
    public int VocabSize => _model.Count;

    /// <summary>HF <c>get_vocab()</c> of the WordPiece model: token → id (added tokens beyond it not included).</summary>
    public IReadOnlyDictionary<string, int> Vocab => _model.Vocab;

    /// <summary>HF <c>model_max_length</c> (512 when the files do not say).</summary>
    public int ModelMaxLength => Options.ModelMaxLength;

    /// <summary>HF <c>mask_token</c>.</summary>
    public string MaskToken => Options.MaskToken;

    /// <summary>Id of <see cref="MaskToken"/>.</summary>
    public int MaskTokenId { get; }

    /// <summary>Id of the <c>[CLS]</c> token.</summary>
    public int ClsTokenId { get; }

    /// <summary>Id of the <c>[SEP]</c> token.</summary>
    public int SepTokenId { get; }

    /// <summary>Id of the <c>[PAD]</c> token.</summary>
    public int PadTokenId { get; }

    /// <summary>Id of the <c>[UNK]</c> token.</summary>
    public int UnkTokenId { get; }

    /// <summary>HF <c>tokenize(text)</c>: the tokens of <paramref name="text"/>, without special tokens added.</summary>
    public string[] Tokenize(string text) => TokenizeSequence(text).Select(p => p.Token).ToArray();

    /// <summary>HF <c>convert_tokens_to_ids</c>: unknown tokens give <see cref="UnkTokenId"/>.</summary>
    public int[] ConvertTokensToIds(IEnumerable<string> tokens) => tokens.Select(ConvertTokenToId).ToArray();

    /// <summary>HF <c>convert_tokens_to_ids</c> for one token: unknown gives <see cref="UnkTokenId"/>.</summary>
    public int ConvertTokenToId(string token) =>
        _addedTokens.TryGetValue(token, out int id) || _model.TryGetId(token, out id) ? id : UnkTokenId;

    /// <summary>HF <c>convert_ids_to_tokens</c>; an id outside the vocabulary throws <see cref="ArgumentOutOfRangeException"/>.</summary>
    public string[] ConvertIdsToTokens(IEnumerable<long> ids) => ids.Select(ConvertIdToToken).ToArray();

    /// <inheritdoc cref="ConvertIdsToTokens(IEnumerable{long})"/>
    public string[] ConvertIdsToTokens(IEnumerable<int> ids) => ids.Select(i => ConvertIdToToken(i)).ToArray();

    /// <summary>The token of one id; an id outside the vocabulary throws <see cref="ArgumentOutOfRangeException"/>.</summary>
    public string ConvertIdToToken(long id) =>
        TryGetToken(id, out string? token)
            ? token
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"id {id} is not in the vocabulary (size {VocabSize})");

    private bool TryGetToken(long id, out string token)
    {
        token = "";
        if (id is < int.MinValue or > int.MaxValue) return false;
        return _addedIdToToken.TryGetValue((int)id, out token!) || _model.TryGetToken((int)id, out token);
    }

    /// <summary>
    /// The pieces of one input string: special tokens found in it are kept whole, the text around them is
    /// normalized, pre-tokenized and WordPiece-split. Offsets refer to <paramref name="text"/>. Like
    /// <c>tokenizers</c> when truncating, it stops right after the text word (not special token) that brings
    /// the count to <paramref name="maxTokens"/> or more, so the result can be longer than that.
    /// </summary>
    private List<Piece> TokenizeSequence(string text, int maxTokens = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<Piece>();
        int word = 0;   // HF word_ids: one per special token found and per pre-tokenized word
        foreach (var (start, end, id) in _splitter.Split(text))
        {
            if (id >= 0)
            {
                pieces.Add(new Piece(id, text[start..end], start, end, word++));
                continue;
            }
            NormalizedText normalized = _normalizer.Normalize(text, start, end);
            foreach (var (wordStart, wordEnd) in BertPreTokenizer.Split(normalized.Text))
            {
                _model.Tokenize(normalized.Text[wordStart..wordEnd], normalized.Starts.AsSpan(wordStart, wordEnd - wordStart),
                    normalized.Ends.AsSpan(wordStart, wordEnd - wordStart), word++, pieces);
                if (pieces.Count >= maxTokens) return pieces;
            }
        }
        return pieces;
    }
}
