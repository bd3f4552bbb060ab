using TorchBert.Tokenization;
using static TorchBert.Tests.Tokenization.TokenizerFixture;

namespace TorchBert.Tests.Tokenization;

public class TokenizerEncodeTests
{
    private static long[] Encode(string text) => Uncased.Encode(text).InputIds;

    [Fact]
    public void Pair_gets_cls_sep_template_and_token_types()
    {
        BertEncoding e = Uncased.Encode("Hello world!", "Have a great day!");
        e.InputIds.Should().Equal(101, 7592, 2088, 999, 102, 2031, 1037, 2307, 2154, 999, 102);
        e.TokenTypeIds.Should().Equal(0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1);
        e.AttentionMask.Should().OnlyContain(m => m == 1).And.HaveCount(11);
        e.Tokens.Should().Equal("[CLS]", "hello", "world", "!", "[SEP]", "have", "a", "great", "day", "!", "[SEP]");
        e.SpecialTokensMask.Should().Equal(1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1);
    }

    [Fact]
    public void Mask_token_in_text_stays_one_token()
    {
        // hello 7592 , 1010 mr 2720 . 1012 bert 14324 ! 999 how 2129 is 2003 it 2009 [MASK] 103 ? 1029
        Encode("Hello, Mr. Bert! How is it [MASK]?").Should()
            .Equal(101, 7592, 1010, 2720, 1012, 14324, 999, 2129, 2003, 2009, 103, 1029, 102);
    }

    [Fact]
    public void Special_tokens_match_exactly_and_case_sensitively()
    {
        // "[mask]" is plain text (→ [ mask ]); "[MASK]" inside a word still splits it; [SEP][CLS] are kept.
        Uncased.Encode("[mask] [MASK] x[MASK]y [SEP][CLS]").InputIds.Should()
            .Equal(101, 1031, 7308, 1033, 103, 1060, 103, 1061, 102, 101, 102);
    }

    [Theory]
    [InlineData("Café naïve résumé")]
    [InlineData("CAFÉ NAÏVE RÉSUMÉ")]
    [InlineData("cafe\u0301 nai\u0308ve re\u0301sume\u0301")]
    public void Uncased_strips_accents(string text) =>
        Encode(text).Should().Equal(Encode("cafe naive resume")).And.Equal(101, 7668, 15743, 13746, 102);

    [Fact]
    public void Cased_keeps_case_and_accents()
    {
        var cased = BertTokenizer.FromVocabFile(VocabPath, doLowerCase: false);
        // The uncased vocabulary has no "Hello" and no accented "café": HF gives [UNK] for both.
        cased.Encode("Hello café vu").InputIds.Should().Equal(101, 100, 100, 24728, 102);
        cased.Options.StripAccents.Should().BeNull("strip_accents follows do_lower_case");
    }

    [Fact]
    public void Turkish_dotted_capital_i_is_lowercased_after_stripping()
    {
        Encode("İstanbul").Should().Equal(101, 9960, 102);
    }

    [Fact]
    public void Cjk_ideographs_are_single_words()
    {
        // 我 1855, 爱 is not in the vocabulary → [UNK], 北 1781, 京 1755
        Encode("我爱北京").Should().Equal(101, 1855, 100, 1781, 1755, 102);
        Encode("I love 北京!").Should().Equal(101, 1045, 2293, 1781, 1755, 999, 102);
    }

    [Fact]
    public void Hangul_is_decomposed_to_jamo_when_stripping_accents()
    {
        Uncased.Tokenize("한국어").Should().Equal("ᄒ", "##ᅡ", "##ᆫ", "##ᄀ", "##ᅮ", "##ᆨ", "##ᄋ", "##ᅥ");
    }

    [Fact]
    public void Tab_newline_and_carriage_return_separate_words()
    {
        Encode("hello\tworld\nfoo\rbar").Should().Equal(101, 7592, 2088, 29379, 3347, 102);
    }

    [Theory]
    // Cf (U+200B, U+200D, U+00AD), U+0000 and U+FFFD are dropped by clean_text: the words around them JOIN.
    [InlineData("zero\u200bwidth", new long[] { 101, 5717, 9148, 11927, 2232, 102 })] // zero ##wi ##dt ##h
    [InlineData("a\u200db", new long[] { 101, 11113, 102 })] // ab
    [InlineData("nul\u0000l", new long[] { 101, 19701, 102 })] // null
    [InlineData("x\ufffdy", new long[] { 101, 1060, 2100, 102 })] // x ##y
    [InlineData("soft\u00adhyphen", new long[] { 101, 3730, 10536, 8458, 2368, 102 })] // soft ##hy ##ph ##en
    public void Control_and_zero_width_characters_are_removed(string text, long[] expected) =>
        Encode(text).Should().Equal(expected);

    [Theory]
    // HF's fast tokenizer starts CJK Extension E at U+2B920 (not U+2B820 as the Python one does).
    [InlineData("a\U0002B820b", new long[] { 101, 100, 102 })]
    [InlineData("a\U0002B920b", new long[] { 101, 1037, 100, 1038, 102 })]
    // Its Unicode tables predate U+2E43 (Po since Unicode 9) and U+0890 (Cf since Unicode 14): a word char, kept.
    [InlineData("a\u2E43b", new long[] { 101, 100, 102 })]
    [InlineData("a\u0890b", new long[] { 101, 100, 102 })]
    public void Unicode_table_quirks_follow_hf(string text, long[] expected) => Encode(text).Should().Equal(expected);

    [Fact]
    public void Emoji_are_words_not_punctuation_and_become_unk()
    {
        Encode("I 😀 you").Should().Equal(101, 1045, 100, 2017, 102);
        // "😀you" is one word (emoji is not punctuation) with an unknown piece → one [UNK].
        Encode("I 😀you 👍🏽!").Should().Equal(101, 1045, 100, 100, 999, 102);
    }

    [Fact]
    public void Every_ascii_symbol_is_its_own_token()
    {
        // $ 1002 100 2531 + 1009 < 1026 tag 6415 > 1028 a 1037 | 1064 b 1038 ~ 1066 x 1060 ^ 1034 y 1061 = 1027 z 1062
        Encode("$100+ <tag> a|b ~x^y =z").Should()
            .Equal(101, 1002, 2531, 1009, 1026, 6415, 1028, 1037, 1064, 1038, 1066, 1060, 1034, 1061, 1027, 1062, 102);
    }

    [Fact]
    public void Unicode_punctuation_is_split_off()
    {
        Uncased.Tokenize("«quoted» — “text”…").Should().Equal("«", "quoted", "»", "—", "“", "text", "”", "…");
        Uncased.Tokenize("don't stop").Should().Equal("don", "'", "t", "stop");
    }

    [Fact]
    public void Words_longer_than_100_characters_become_unk()
    {
        Encode(new string('b', 101)).Should().Equal(101, 100, 102);
        // Exactly 100 is allowed and WordPiece-split ("bb" then "##bb"...).
        Uncased.Tokenize(new string('b', 100)).Should().NotContain("[UNK]").And.HaveCountGreaterThan(1);
    }

    [Fact]
    public void Word_length_limit_counts_code_points_not_utf16_units()
    {
        // U+1D400 (𝐀) is one code point but two UTF-16 chars: 100 of them are 200 chars and still allowed.
        var tokenizer = BertTokenizer.FromVocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "𝐀", "##𝐀"]);
        string Word(int n) => string.Concat(Enumerable.Repeat("𝐀", n));
        tokenizer.Encode(Word(100)).InputIds.Should().HaveCount(102).And.StartWith(new long[] { 2, 5, 6 }).And.EndWith(new long[] { 6, 3 });
        tokenizer.Encode(Word(101)).InputIds.Should().Equal(2, 1, 3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \t\n  ")]
    [InlineData("\u200b\u0000")]
    public void Empty_or_blank_text_gives_only_specials(string text)
    {
        Encode(text).Should().Equal(101, 102);
        Uncased.Tokenize(text).Should().BeEmpty();
    }

    [Fact]
    public void Words_split_into_continuation_pieces()
    {
        Uncased.Tokenize("unaffable tokenization").Should().Equal("una", "##ffa", "##ble", "token", "##ization");
        Encode("unaffable tokenization").Should().Equal(101, 14477, 20961, 3468, 19204, 3989, 102);
    }

    [Fact]
    public void Without_special_tokens_a_pair_still_gets_type_ids()
    {
        BertEncoding e = Uncased.Encode("a b", "x y", new EncodeOptions { AddSpecialTokens = false });
        e.InputIds.Should().Equal(1037, 1038, 1060, 1061);
        e.TokenTypeIds.Should().Equal(0, 0, 1, 1);
    }

    [Fact]
    public void Offsets_point_into_each_input()
    {
        BertEncoding e = Uncased.Encode("Café 😀x", "I [MASK]");
        e.Tokens.Should().Equal("[CLS]", "cafe", "[UNK]", "[SEP]", "i", "[MASK]", "[SEP]");
        e.Offsets.Should().Equal((0, 0), (0, 4), (5, 8), (0, 0), (0, 1), (2, 8), (0, 0));
    }

    [Fact]
    public void Conversions_and_properties()
    {
        Uncased.VocabSize.Should().Be(30522);
        (Uncased.PadTokenId, Uncased.UnkTokenId, Uncased.ClsTokenId, Uncased.SepTokenId, Uncased.MaskTokenId)
            .Should().Be((0, 100, 101, 102, 103));
        Uncased.MaskToken.Should().Be("[MASK]");
        Uncased.ModelMaxLength.Should().Be(512);
        Uncased.ConvertTokensToIds(["hello", "##ffa", "not-a-token"]).Should().Equal(7592, 20961, 100);
        Uncased.ConvertIdsToTokens([7592, 103]).Should().Equal("hello", "[MASK]");
        var act = () => Uncased.ConvertIdToToken(30522);
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*30522*");
    }
}
