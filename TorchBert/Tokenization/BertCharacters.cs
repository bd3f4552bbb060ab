using System.Globalization;
using System.Text;

namespace TorchBert.Tokenization;

/// <summary>
/// Character classes of HF <c>tokenizers</c>' BertNormalizer / BertPreTokenizer (the fast tokenizer), which
/// differ in places from the slow Python <c>tokenization_bert.py</c> helpers:
/// <list type="bullet">
/// <item>control = Unicode category Cc, Cf or Co (not Cn), except <c>\t \n \r</c>; U+0000 and U+FFFD are also
/// dropped. Python's <c>_is_control</c> also drops Cn/Cs.</item>
/// <item>whitespace = the Unicode White_Space property (Rust <c>char::is_whitespace</c>, .NET
/// <see cref="Rune.IsWhiteSpace"/>), so U+2028/U+2029 count too; Python only takes Zs plus <c>\t \n \r</c>.</item>
/// <item>punctuation = ASCII 33-47, 58-64, 91-96, 123-126 or category P*.</item>
/// </list>
/// <c>tokenizers</c> classifies with frozen, older Unicode tables; <see cref="UnicodeExceptions"/> holds the
/// code points where .NET's current tables classify differently, so the result is HF's.
/// </summary>
internal static class BertCharacters
{
    /// <summary>HF <c>is_control</c> in the fast normalizer (dropped by clean_text).</summary>
    public static bool IsControl(Rune r)
    {
        int cp = r.Value;
        if (cp is '\t' or '\n' or '\r') return false;
        if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
        if (UnicodeExceptions.TryIsControl(cp, out bool control)) return control;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.PrivateUse;
    }

    /// <summary>Rust <c>char::is_whitespace</c> (Unicode White_Space).</summary>
    public static bool IsWhitespace(Rune r) => Rune.IsWhiteSpace(r);

    /// <summary>
    /// HF <c>is_chinese_char</c>: the CJK Unified Ideographs blocks (not Hangul, Hiragana, Katakana). The fast
    /// tokenizer's Extension E range starts at U+2B920 (the slow Python one at U+2B820), so U+2B820..U+2B91F are
    /// not split off by HF's fast tokenizer, nor here.
    /// </summary>
    public static bool IsChineseChar(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>HF <c>is_bert_punc</c>: ASCII punctuation (incl. <c>$ + &lt; = &gt; ^ ` | ~</c>) or category P*.</summary>
    public static bool IsPunctuation(Rune r)
    {
        int cp = r.Value;
        if (cp < 0x80) return cp is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126);
        if (UnicodeExceptions.TryIsPunctuation(cp, out bool punctuation)) return punctuation;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>Category Mn (dropped by strip_accents after NFD).</summary>
    public static bool IsNonSpacingMark(Rune r)
    {
        if (r.IsAscii) return false;
        if (UnicodeExceptions.TryIsNonSpacingMark(r.Value, out bool mark)) return mark;
        return Rune.GetUnicodeCategory(r) == UnicodeCategory.NonSpacingMark;
    }

    /// <summary>Any combining mark (Mn, Mc, Me): these attach to the preceding character for NFD.</summary>
    public static bool IsCombiningMark(Rune r) =>
        r.Value >= 0x300 && Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
            or UnicodeCategory.EnclosingMark;
}
