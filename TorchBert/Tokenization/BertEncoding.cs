namespace TorchBert.Tokenization;

/// <summary>
/// One encoded row, as HF's <c>tokenizer(text, text_pair)</c> returns it. All arrays have <see cref="Length"/>
/// entries; padding positions have id <see cref="BertTokenizer.PadTokenId"/>, token type 0 and mask 0.
/// </summary>
public sealed class BertEncoding
{
    private static readonly BertEncoding[] NoOverflow = [];
    private readonly int[]? _words;          // word index per position, -1 for none; null: unknown (all none)
    private readonly SequenceRanges _ranges;
    private NullableIntView? _wordIds, _sequenceIds;

    internal BertEncoding(long[] inputIds, long[] tokenTypeIds, long[] attentionMask, long[] specialTokensMask,
        string[] tokens, (int Start, int End)[] offsets)
        : this(inputIds, tokenTypeIds, attentionMask, specialTokensMask, tokens, offsets, null, SequenceRanges.None)
    {
    }

    internal BertEncoding(long[] inputIds, long[] tokenTypeIds, long[] attentionMask, long[] specialTokensMask,
        string[] tokens, (int Start, int End)[] offsets, int[]? words, SequenceRanges ranges,
        IReadOnlyList<BertEncoding>? overflowing = null)
    {
        InputIds = inputIds;
        TokenTypeIds = tokenTypeIds;
        AttentionMask = attentionMask;
        SpecialTokensMask = specialTokensMask;
        Tokens = tokens;
        Offsets = offsets;
        _words = words;
        _ranges = ranges;
        Overflowing = overflowing ?? NoOverflow;
    }

    /// <summary>HF <c>input_ids</c>.</summary>
    public long[] InputIds { get; }

    /// <summary>HF <c>token_type_ids</c>: 0 for the first sequence (and its specials), 1 for the second.</summary>
    public long[] TokenTypeIds { get; }

    /// <summary>HF <c>attention_mask</c>: 1 for real tokens, 0 for padding.</summary>
    public long[] AttentionMask { get; }

    /// <summary>
    /// HF <c>special_tokens_mask</c> (<c>return_special_tokens_mask=True</c>): 1 for added [CLS]/[SEP] and padding,
    /// 0 for text tokens (special tokens written in the text included, as <c>tokenizers</c> does).
    /// </summary>
    public long[] SpecialTokensMask { get; }

    /// <summary>The token strings (HF <c>encoding.tokens</c>).</summary>
    public string[] Tokens { get; }

    /// <summary>
    /// HF <c>offset_mapping</c>: [Start, End) of each token in its own input string (the first text for sequence 0,
    /// the pair for sequence 1, see <see cref="SequenceIds"/>), in UTF-16 chars. HF's Python offsets count code
    /// points, which differ only after characters outside the BMP (emoji, rare CJK): <see cref="CodePointOffsets"/>
    /// converts. Added and padding tokens get (0, 0); special tokens found in the text get their span.
    /// </summary>
    public (int Start, int End)[] Offsets { get; }

    /// <summary>
    /// HF <c>word_ids()</c>: for each position the index of the word of its own sequence it came from (words are
    /// what the pre-tokenizer splits: runs of non-space, non-punctuation characters, each punctuation character,
    /// each CJK ideograph; a special token written in the text is a word too), <see langword="null"/> for added
    /// special tokens and padding. Windows of <see cref="Overflowing"/> keep the indices of the whole sequence.
    /// </summary>
    public IReadOnlyList<int?> WordIds => _wordIds ??= new NullableIntView(_words, Length, null);

    /// <summary>
    /// HF <c>sequence_ids()</c>: 0 for tokens of the first text, 1 for tokens of the pair, <see langword="null"/> for
    /// added special tokens and padding.
    /// </summary>
    public IReadOnlyList<int?> SequenceIds => _sequenceIds ??= new NullableIntView(null, Length, _ranges);

    /// <summary>
    /// HF <c>encoding.overflowing</c> with <see cref="EncodeOptions.ReturnOverflowingTokens"/>: the further windows
    /// truncation produced (with their own special tokens, padded as this row), in <c>tokenizers</c>' order. Empty
    /// when nothing overflowed or overflow was not requested, and on the windows themselves.
    /// </summary>
    public IReadOnlyList<BertEncoding> Overflowing { get; }

    /// <summary>Number of positions, padding included.</summary>
    public int Length => InputIds.Length;

    internal int[]? Words => _words;
    internal SequenceRanges Ranges => _ranges;

    /// <summary>
    /// HF <c>sequence_range</c>: positions [Start, End) of sequence <paramref name="sequenceIndex"/> (0 or 1) in this
    /// row; as <c>tokenizers</c>, the whole row when the row has no such sequence.
    /// </summary>
    public (int Start, int End) SequenceRange(int sequenceIndex = 0) => sequenceIndex switch
    {
        0 when _ranges.Start0 >= 0 => (_ranges.Start0, _ranges.End0),
        1 when _ranges.Start1 >= 0 => (_ranges.Start1, _ranges.End1),
        _ => (0, Length),
    };

    /// <summary>HF <c>token_to_word</c>: <see cref="WordIds"/>[<paramref name="token"/>].</summary>
    public int? TokenToWord(int token) => WordIds[token];

    /// <summary>
    /// HF <c>word_to_tokens</c>: the positions [Start, End) of word <paramref name="word"/> of sequence
    /// <paramref name="sequenceIndex"/> in this row (only the part inside this window), null when absent.
    /// </summary>
    public (int Start, int End)? WordToTokens(int word, int sequenceIndex = 0)
    {
        var (from, to) = SequenceRange(sequenceIndex);
        int start = -1, end = -1;
        for (int i = from; i < to; i++)
        {
            int? w = WordIds[i];
            if (w > word) break;   // word ids only grow along a sequence (tokenizers' take_while)
            if (w != word) continue;
            if (start < 0) start = i;
            end = i + 1;
        }
        return start < 0 ? null : (start, end);
    }

    /// <summary>
    /// HF <c>word_to_chars</c>: [Start, End) of word <paramref name="word"/> of sequence <paramref name="sequenceIndex"/>
    /// in its text (UTF-16, like <see cref="Offsets"/>), from the tokens this window holds; null when absent.
    /// </summary>
    public (int Start, int End)? WordToChars(int word, int sequenceIndex = 0) =>
        WordToTokens(word, sequenceIndex) is var (start, end) ? (Offsets[start].Start, Offsets[end - 1].End) : null;

    /// <summary>
    /// HF <c>char_to_token</c>: the position of the first token of sequence <paramref name="sequenceIndex"/> whose
    /// offsets contain UTF-16 index <paramref name="charIndex"/> of its text; null when none does.
    /// </summary>
    public int? CharToToken(int charIndex, int sequenceIndex = 0)
    {
        var (from, to) = SequenceRange(sequenceIndex);
        for (int i = from; i < to; i++)
        {
            if (charIndex >= Offsets[i].Start && charIndex < Offsets[i].End) return i;
        }
        return null;
    }

    /// <summary>
    /// <see cref="Offsets"/> in code points, as HF's Python <c>offset_mapping</c> reports them: each token's offsets
    /// converted in the text of its sequence (<paramref name="text"/> for sequence 0, <paramref name="textPair"/> for 1).
    /// </summary>
    /// <exception cref="ArgumentException">A pair token is present but <paramref name="textPair"/> is null, or an
    /// offset lies outside its text.</exception>
    public (int Start, int End)[] CodePointOffsets(string text, string? textPair = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        int[] first = TextOffsets.CodePointMap(text);
        int[]? second = textPair is null ? null : TextOffsets.CodePointMap(textPair);
        var result = new (int Start, int End)[Length];
        for (int i = 0; i < Length; i++)
        {
            var (start, end) = Offsets[i];
            int? sequence = SequenceIds[i];
            if (sequence is null)
            {
                result[i] = (start, end);   // (0, 0) for added and padding tokens
                continue;
            }
            int[] map = sequence == 0 ? first
                : second ?? throw new ArgumentException($"token {i} belongs to the pair (sequence 1): pass textPair", nameof(textPair));
            if (end >= map.Length || start > end)
                throw new ArgumentException(
                    $"token {i} has offsets ({start}, {end}) outside its text of {map.Length - 1} chars: pass the texts that were encoded",
                    sequence == 0 ? nameof(text) : nameof(textPair));
            result[i] = (map[start], map[end]);
        }
        return result;
    }

    /// <summary>Positions [Start, End) of sequence 0 and 1 in the row (HF's sequence_ranges); Start = -1: absent.</summary>
    internal readonly record struct SequenceRanges(int Start0, int End0, int Start1, int End1)
    {
        public static SequenceRanges None => new(-1, -1, -1, -1);

        public int? At(int position) =>
            position >= Start0 && position < End0 ? 0 : position >= Start1 && position < End1 ? 1 : null;
    }

    /// <summary>A read-only <c>int?</c> list over an <c>int[]</c> (-1 = null) or over sequence ranges: no per-token boxes.</summary>
    private sealed class NullableIntView(int[]? values, int count, SequenceRanges? ranges) : IReadOnlyList<int?>
    {
        public int? this[int index]
        {
            get
            {
                if ((uint)index >= (uint)count) throw new ArgumentOutOfRangeException(nameof(index), index, $"the row has {count} positions");
                if (ranges is SequenceRanges r) return r.At(index);
                return values is null || values[index] < 0 ? null : values[index];
            }
        }

        public int Count => count;

        public IEnumerator<int?> GetEnumerator()
        {
            for (int i = 0; i < count; i++) yield return this[i];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>
/// Offsets between the UTF-16 indices .NET strings (and TorchBert's <see cref="BertEncoding.Offsets"/>) use and the
/// code-point indices Python strings (and HF's <c>offset_mapping</c>) use. They differ after each character
/// outside the BMP (a surrogate pair: one code point, two UTF-16 chars).
/// </summary>
public static class TextOffsets
{
    /// <summary>The code-point index of UTF-16 index <paramref name="utf16Index"/> (0..text.Length) in <paramref name="text"/>.</summary>
    public static int ToCodePoints(string text, int utf16Index)
    {
        ArgumentNullException.ThrowIfNull(text);
        if ((uint)utf16Index > (uint)text.Length)
            throw new ArgumentOutOfRangeException(nameof(utf16Index), utf16Index, $"the text has {text.Length} UTF-16 chars");
        int codePoints = 0;
        for (int i = 0; i < utf16Index; i++)
        {
            if (!(char.IsLowSurrogate(text[i]) && i > 0 && char.IsHighSurrogate(text[i - 1]))) codePoints++;
        }
        return codePoints;
    }

    /// <summary>The UTF-16 index of code-point index <paramref name="codePointIndex"/> in <paramref name="text"/>.</summary>
    public static int ToUtf16(string text, int codePointIndex)
    {
        ArgumentNullException.ThrowIfNull(text);
        int i = 0;
        for (int k = 0; k < codePointIndex; k++)
        {
            if (i >= text.Length)
                throw new ArgumentOutOfRangeException(nameof(codePointIndex), codePointIndex, $"the text has {k} code points");
            i += char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
        }
        return i;
    }

    /// <summary>
    /// For every UTF-16 index 0..text.Length, its code-point index (a lone surrogate counts as one code point;
    /// the index between the two halves of a pair maps to the pair's own index).
    /// </summary>
    public static int[] CodePointMap(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var map = new int[text.Length + 1];
        int codePoints = 0;
        for (int i = 0; i < text.Length; i++)
        {
            map[i] = codePoints;
            if (!(char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))) codePoints++;
        }
        map[text.Length] = codePoints;
        return map;
    }

    /// <summary>
    /// <paramref name="offsets"/> (UTF-16, into <paramref name="text"/>) converted to code points, (0, 0) kept.
    /// </summary>
    public static (int Start, int End)[] ToCodePoints(string text, IReadOnlyList<(int Start, int End)> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        int[] map = CodePointMap(text);
        var result = new (int Start, int End)[offsets.Count];
        for (int i = 0; i < offsets.Count; i++)
        {
            var (start, end) = offsets[i];
            if (start < 0 || end >= map.Length || start > end)
                throw new ArgumentOutOfRangeException(nameof(offsets), offsets[i], $"offset {i} is outside the text of {text.Length} chars");
            result[i] = (map[start], map[end]);
        }
        return result;
    }
}

/// <summary>
/// A batch of encodings (HF <c>BatchEncoding</c>), one row per input. Rows have equal length when padded;
/// the <c>Flat*</c> helpers give row-major <c>[batch, seq]</c> arrays for tensors.
/// </summary>
public sealed class BatchEncoding
{
    internal BatchEncoding(IReadOnlyList<BertEncoding> rows, IReadOnlyList<int>? overflowToSampleMapping = null)
    {
        Encodings = rows;
        OverflowToSampleMapping = overflowToSampleMapping;
        InputIds = rows.Select(r => r.InputIds).ToArray();
        TokenTypeIds = rows.Select(r => r.TokenTypeIds).ToArray();
        AttentionMask = rows.Select(r => r.AttentionMask).ToArray();
        Tokens = rows.Select(r => r.Tokens).ToArray();
    }

    /// <summary>
    /// The rows. With <see cref="EncodeOptions.ReturnOverflowingTokens"/>, as HF: every input's row followed by its
    /// overflowing windows (<see cref="OverflowToSampleMapping"/> says which input each row came from).
    /// </summary>
    public IReadOnlyList<BertEncoding> Encodings { get; }

    /// <summary>
    /// HF <c>overflow_to_sample_mapping</c>: for each row, the index of the input text it came from; null unless
    /// <see cref="EncodeOptions.ReturnOverflowingTokens"/> was set.
    /// </summary>
    public IReadOnlyList<int>? OverflowToSampleMapping { get; }

    /// <summary>HF <c>input_ids</c>, one array per row.</summary>
    public long[][] InputIds { get; }

    /// <summary>HF <c>token_type_ids</c>, one array per row.</summary>
    public long[][] TokenTypeIds { get; }

    /// <summary>HF <c>attention_mask</c>, one array per row.</summary>
    public long[][] AttentionMask { get; }

    /// <summary>Token strings, one array per row.</summary>
    public string[][] Tokens { get; }

    /// <summary>Number of rows.</summary>
    public int BatchSize => Encodings.Count;

    /// <summary>
    /// The common row length. Throws <see cref="TokenizerException"/> when rows differ (encode with
    /// padding to get a rectangular batch).
    /// </summary>
    public int SequenceLength => CommonLength(InputIds);

    /// <summary><c>[BatchSize, SequenceLength]</c>, the shape of the <c>Flat*</c> arrays.</summary>
    public long[] Shape => [BatchSize, SequenceLength];

    /// <summary><see cref="InputIds"/> flattened row-major to <c>[batch, seq]</c>.</summary>
    public long[] FlatInputIds() => Flatten(InputIds);

    /// <summary><see cref="TokenTypeIds"/> flattened row-major to <c>[batch, seq]</c>.</summary>
    public long[] FlatTokenTypeIds() => Flatten(TokenTypeIds);

    /// <summary><see cref="AttentionMask"/> flattened row-major to <c>[batch, seq]</c>.</summary>
    public long[] FlatAttentionMask() => Flatten(AttentionMask);

    /// <summary>Concatenates equal-length rows; throws <see cref="TokenizerException"/> when lengths differ.</summary>
    public static long[] Flatten(IReadOnlyList<long[]> rows)
    {
        int length = CommonLength(rows);
        var flat = new long[rows.Count * length];
        for (int r = 0; r < rows.Count; r++) rows[r].CopyTo(flat, r * length);
        return flat;
    }

    private static int CommonLength(IReadOnlyList<long[]> rows)
    {
        if (rows.Count == 0) return 0;
        int length = rows[0].Length;
        for (int r = 1; r < rows.Count; r++)
        {
            if (rows[r].Length != length)
                throw new TokenizerException(
                    $"rows have different lengths ({length} and {rows[r].Length} at row {r}); encode with padding for a rectangular batch");
        }
        return length;
    }
}
