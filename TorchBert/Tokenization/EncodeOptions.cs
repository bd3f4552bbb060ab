namespace TorchBert.Tokenization;

/// <summary>HF <c>padding</c>: <c>False</c>, <c>"longest"</c> (or <c>True</c>), <c>"max_length"</c>.</summary>
public enum PaddingStrategy
{
    /// <summary>No padding (HF <c>padding=False</c>).</summary>
    None,
    /// <summary>Pad every row to the longest row of the batch (HF <c>padding=True</c> / <c>"longest"</c>).</summary>
    Longest,
    /// <summary>Pad to <see cref="EncodeOptions.MaxLength"/>, or the model maximum when that is not set.</summary>
    MaxLength,
}

/// <summary>HF <c>truncation</c> strategies.</summary>
public enum TruncationStrategy
{
    /// <summary>Never truncate (HF <c>truncation=False</c> / <c>"do_not_truncate"</c>).</summary>
    None,
    /// <summary>
    /// HF <c>True</c> / <c>"longest_first"</c>, as the fast tokenizer does it (not one token at a time as the slow
    /// one): with budget B = max_length − special tokens and lengths a ≤ b, the shorter keeps a when a ≤ B − a and
    /// the longer gets B − a; otherwise both get B/2 and the longer one (the second on a tie) the odd token.
    /// The lengths compared are those after the fast tokenizer's early stop (it stops tokenizing a sequence after
    /// the word that reaches max_length tokens), which this reproduces.
    /// </summary>
    LongestFirst,
    /// <summary>Truncate only the first sequence (HF <c>"only_first"</c>); an error when it is too short.</summary>
    OnlyFirst,
    /// <summary>Truncate only the second sequence (HF <c>"only_second"</c>); an error without a pair or when it is too short.</summary>
    OnlySecond,
}

/// <summary>
/// Options of <see cref="BertTokenizer.Encode"/> / <see cref="BertTokenizer.EncodeBatch"/>, mirroring the
/// keyword arguments of HF's <c>tokenizer(...)</c>. Padding and truncation are on the right, as HF's defaults.
/// </summary>
public sealed record EncodeOptions
{
    /// <summary>The defaults: special tokens added, no padding, no truncation.</summary>
    public static EncodeOptions Default { get; } = new();

    /// <summary>HF <c>add_special_tokens</c>: wrap as <c>[CLS] A [SEP]</c> / <c>[CLS] A [SEP] B [SEP]</c>.</summary>
    public bool AddSpecialTokens { get; init; } = true;

    /// <summary>HF <c>padding</c>.</summary>
    public PaddingStrategy Padding { get; init; } = PaddingStrategy.None;

    /// <summary>
    /// HF <c>truncation</c>. <see langword="null"/> is HF's "not given": it becomes
    /// <see cref="TruncationStrategy.LongestFirst"/> when <see cref="MaxLength"/> is set and
    /// <see cref="Padding"/> is <see cref="PaddingStrategy.None"/>, else <see cref="TruncationStrategy.None"/>.
    /// </summary>
    public TruncationStrategy? Truncation { get; init; }

    /// <summary>HF <c>max_length</c>, special tokens included; the model maximum when needed and not set.</summary>
    public int? MaxLength { get; init; }

    /// <summary>HF <c>pad_to_multiple_of</c>: when padding, round the padded length up to a multiple of this.</summary>
    public int? PadToMultipleOf { get; init; }
}
