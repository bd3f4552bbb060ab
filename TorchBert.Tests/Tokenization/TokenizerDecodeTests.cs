using TorchBert.Tokenization;
using static TorchBert.Tests.Tokenization.TokenizerFixture;

namespace TorchBert.Tests.Tokenization;

public class TokenizerDecodeTests
{
    [Fact]
    public void Decode_joins_pieces_and_cleans_punctuation_spaces()
    {
        long[] ids = Uncased.Encode("Hello, Mr. Bert! How is it [MASK]?").InputIds;
        Uncased.Decode(ids).Should().Be("[CLS] hello, mr. bert! how is it [MASK]? [SEP]");
        Uncased.Decode(ids, skipSpecialTokens: true).Should().Be("hello, mr. bert! how is it?");
    }

    [Fact]
    public void Decode_glues_continuation_pieces()
    {
        Uncased.Decode(Uncased.Encode("unaffable tokenization").InputIds, skipSpecialTokens: true)
            .Should().Be("unaffable tokenization");
        // A leading continuation piece keeps its ## (HF only strips it after another token).
        Uncased.Decode(new long[] { 20961, 3468 }).Should().Be("##ffable");
    }

    /// <summary>Expected strings from HF tokenizers 0.23.2's <c>wordPieceDecoder("##", true).decode(tokens)</c> (tools/hf-tokenizer-oracle, Node).</summary>
    [Theory]
    [InlineData("london|,", "london,")]
    [InlineData("##e", "##e")]
    [InlineData("john|##son", "johnson")]
    [InlineData("i|do|not|care|.", "i do not care.")]
    [InlineData("it|'|s", "it ' s")]
    [InlineData("he|'s|here|!", "he's here!")]
    [InlineData("a|?|b", "a? b")]
    [InlineData("😀|met", "😀 met")]
    [InlineData("don|'|t", "don ' t")]
    public void ConvertTokensToString_is_the_fast_tokenizers_wordpiece_decoder(string tokens, string expected) =>
        Uncased.ConvertTokensToString(tokens.Split('|')).Should().Be(expected);

    [Fact]
    public void The_readme_lines_print_what_they_say()
    {
        var enc = Uncased.EncodeBatch(["Hello world!"], ["Have a great day!"], new EncodeOptions { Padding = PaddingStrategy.Longest });
        Uncased.Decode(enc.Encodings[0].InputIds, skipSpecialTokens: true).Should().Be("hello world! have a great day!");
        Uncased.ConvertTokensToString(["london", ",", "john", "##son"]).Should().Be("london, johnson");
    }

    [Fact]
    public void Decode_round_trips_normalized_text()
    {
        foreach (string text in new[] { "the quick brown fox.", "cafe naive resume", "i love 北 京!" })
            Uncased.Decode(Uncased.Encode(text).InputIds, skipSpecialTokens: true).Should().Be(text);
    }

    [Fact]
    public void Clean_up_tokenization_spaces_handles_contractions()
    {
        // don 2123 ' 1005 t 1056 ; i 1045 ' m 1049 ; it 2009 ' s 1055
        long[] ids = Uncased.Encode("I'm sure it's, don't").InputIds;
        Uncased.Decode(ids, skipSpecialTokens: true).Should().Be("i'm sure it's, don't");
        Uncased.Decode(ids, skipSpecialTokens: true, cleanUpTokenizationSpaces: false)
            .Should().Be("i ' m sure it ' s, don ' t", "the WordPiece decoder's own cleanup still joins ' ,'");
        BertTokenizer.CleanUpTokenization("a . b ? c ! d , e ' f do n't I 'm he 's we 've they 're")
            .Should().Be("a. b? c! d, e'f don't I'm he's we've they're");
    }

    [Fact]
    public void Decode_skips_unknown_ids_and_accepts_int_ids()
    {
        Uncased.Decode(new long[] { 7592, 999_999, -5, 2088 }).Should().Be("hello world");
        Uncased.Decode(new[] { 101, 7592, 102 }, skipSpecialTokens: true).Should().Be("hello");
        Uncased.DecodeBatch([new long[] { 7592 }, new long[] { 2088, 999 }]).Should().Equal("hello", "world!");
    }
}
