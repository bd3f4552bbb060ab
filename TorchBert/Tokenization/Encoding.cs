namespace TorchBert.Tokenization;

/// <summary>
/// One encoded row, as HF's <c>tokenizer(text, text_pair)</c> returns it. All arrays have <see cref="Length"/>
/// entries; padding positions have id <see cref="BertTokenizer.PadTokenId"/>, token type 0 and mask 0.
/// </summary>
public sealed class Encoding
{
    internal Encoding(long[] inputIds, long[] tokenTypeIds, long[] attentionMask, long[] specialTokensMask,
        string[] tokens, (int Start, int End)[] offsets)
    {
        InputIds = inputIds;
        TokenTypeIds = tokenTypeIds;
        AttentionMask = attentionMask;
        SpecialTokensMask = specialTokensMask;
        Tokens = tokens;
        Offsets = offsets;
    }

    /// <summary>HF <c>input_ids</c>.</summary>
    public long[] InputIds { get; }

    /// <summary>HF <c>token_type_ids</c>: 0 for the first sequence (and its specials), 1 for the second.</summary>
    public long[] TokenTypeIds { get; }

    /// <summary>HF <c>attention_mask</c>: 1 for real tokens, 0 for padding.</summary>
    public long[] AttentionMask { get; }

    /// <summary>HF <c>special_tokens_mask</c>: 1 for added [CLS]/[SEP] and padding, 0 for text tokens.</summary>
    public long[] SpecialTokensMask { get; }

    /// <summary>The token strings (HF <c>encoding.tokens</c>).</summary>
    public string[] Tokens { get; }

    /// <summary>
    /// HF <c>offset_mapping</c>: [Start, End) of each token in its own input string, in UTF-16 chars (HF's Python
    /// offsets count code points, which differ only around characters outside the BMP). Added and padding
    /// tokens get (0, 0); special tokens found in the text get their span.
    /// </summary>
    public (int Start, int End)[] Offsets { get; }

    /// <summary>Number of positions, padding included.</summary>
    public int Length => InputIds.Length;
}

/// <summary>
/// A batch of encodings (HF <c>BatchEncoding</c>), one row per input. Rows have equal length when padded;
/// the <c>Flat*</c> helpers give row-major <c>[batch, seq]</c> arrays for tensors.
/// </summary>
public sealed class BatchEncoding
{
    internal BatchEncoding(IReadOnlyList<Encoding> rows)
    {
        Encodings = rows;
        InputIds = rows.Select(r => r.InputIds).ToArray();
        TokenTypeIds = rows.Select(r => r.TokenTypeIds).ToArray();
        AttentionMask = rows.Select(r => r.AttentionMask).ToArray();
        Tokens = rows.Select(r => r.Tokens).ToArray();
    }

    /// <summary>The rows.</summary>
    public IReadOnlyList<Encoding> Encodings { get; }

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
