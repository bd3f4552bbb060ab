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

/// <summary>HF <c>truncation_side</c>: which end of a sequence truncation cuts.</summary>
public enum TruncationSide
{
    /// <summary>Keep the first tokens (HF's default, <c>truncation_side="right"</c>).</summary>
    Right,
    /// <summary>
    /// Keep the last tokens (<c>truncation_side="left"</c>; <c>tokenizers</c>' <c>TruncationDirection::Left</c>, as TEI's
    /// <c>truncation_direction: "Left"</c>). The lengths are the same as on the right; each sequence keeps its tail.
    /// </summary>
    Left,
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

    /// <summary>
    /// HF <c>truncation_side</c> (default <see cref="TruncationSide.Right"/>). <see cref="TruncationSide.Left"/> tokenizes
    /// each sequence whole (no early stop: it must see the end) and is not combined with
    /// <see cref="ReturnOverflowingTokens"/> (an error).
    /// </summary>
    public TruncationSide TruncationSide { get; init; } = TruncationSide.Right;

    /// <summary>HF <c>max_length</c>, special tokens included; the model maximum when needed and not set.</summary>
    public int? MaxLength { get; init; }

    /// <summary>HF <c>pad_to_multiple_of</c>: when padding, round the padded length up to a multiple of this.</summary>
    public int? PadToMultipleOf { get; init; }

    /// <summary>
    /// HF <c>stride</c>: when truncating, each window of <see cref="BertEncoding.Overflowing"/> starts
    /// <c>window length − Stride</c> tokens after the previous one, so consecutive windows share
    /// <see cref="Stride"/> tokens of the truncated sequence. Like <c>tokenizers</c>: it must be at most
    /// <c>MaxLength − 2</c>, and smaller than the length a truncated sequence is cut to (an error otherwise).
    /// Without truncation it has no effect.
    /// </summary>
    public int Stride { get; init; }

    /// <summary>
    /// HF <c>return_overflowing_tokens</c>: keep what truncation cut off as extra windows
    /// (<see cref="BertEncoding.Overflowing"/>; in a batch, as extra rows with <see cref="BatchEncoding.OverflowToSampleMapping"/>),
    /// in <c>tokenizers</c>' order. The windows cover the whole input, as <c>tokenizers</c> up to 0.22 (and its
    /// pending fix, huggingface/tokenizers#2098) build them; see <see cref="OverflowStopsAtMaxLength"/>.
    /// </summary>
    public bool ReturnOverflowingTokens { get; init; }

    /// <summary>
    /// Reproduce <c>tokenizers</c> 0.23.1–0.23.2 exactly when returning overflowing tokens: those releases stop
    /// tokenizing a sequence after the word that reaches <see cref="MaxLength"/> tokens even then
    /// (huggingface/tokenizers#2091), so the windows end there and the rest of a long input is lost. Off by default.
    /// Without <see cref="ReturnOverflowingTokens"/> the early stop is always reproduced (it only changes which
    /// side <see cref="TruncationStrategy.LongestFirst"/> cuts).
    /// </summary>
    public bool OverflowStopsAtMaxLength { get; init; }
}
