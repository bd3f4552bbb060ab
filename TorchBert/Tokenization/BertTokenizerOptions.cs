namespace TorchBert.Tokenization;

/// <summary>
/// Settings of a <see cref="BertTokenizer"/>: HF <c>BertTokenizerFast</c>'s constructor arguments, with its
/// defaults (bert-base-uncased's).
/// </summary>
public sealed record BertTokenizerOptions
{
    /// <summary>HF <c>do_lower_case</c>: lowercase the text (and strip accents unless <see cref="StripAccents"/> says otherwise).</summary>
    public bool DoLowerCase { get; init; } = true;

    /// <summary>HF <c>strip_accents</c>: <see langword="null"/> follows <see cref="DoLowerCase"/>.</summary>
    public bool? StripAccents { get; init; }

    /// <summary>HF <c>tokenize_chinese_chars</c>: every CJK ideograph becomes its own word.</summary>
    public bool TokenizeChineseChars { get; init; } = true;

    /// <summary>HF <c>clean_text</c>: drop control characters, turn whitespace into spaces.</summary>
    public bool CleanText { get; init; } = true;

    /// <summary>HF <c>unk_token</c>.</summary>
    public string UnkToken { get; init; } = "[UNK]";

    /// <summary>HF <c>sep_token</c>.</summary>
    public string SepToken { get; init; } = "[SEP]";

    /// <summary>HF <c>pad_token</c>.</summary>
    public string PadToken { get; init; } = "[PAD]";

    /// <summary>HF <c>cls_token</c>.</summary>
    public string ClsToken { get; init; } = "[CLS]";

    /// <summary>HF <c>mask_token</c>.</summary>
    public string MaskToken { get; init; } = "[MASK]";

    /// <summary>HF <c>additional_special_tokens</c> (or added tokens): also kept intact in the text and skipped by decode.</summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];

    /// <summary>HF WordPiece <c>continuing_subword_prefix</c>.</summary>
    public string ContinuingSubwordPrefix { get; init; } = "##";

    /// <summary>HF WordPiece <c>max_input_chars_per_word</c>, in characters (code points): longer words become the unk token.</summary>
    public int MaxInputCharsPerWord { get; init; } = 100;

    /// <summary>HF <c>model_max_length</c>: the length used for truncation or max-length padding without <c>max_length</c>.</summary>
    public int ModelMaxLength { get; init; } = 512;
}
