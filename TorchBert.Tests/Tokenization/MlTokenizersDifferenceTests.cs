using TorchBert.Tokenization;
using static TorchBert.Tests.Tokenization.TokenizerFixture;
using MlBertTokenizer = Microsoft.ML.Tokenizers.BertTokenizer;

namespace TorchBert.Tests.Tokenization;

/// <summary>
/// Inputs where Microsoft.ML.Tokenizers 2.0.1's own BertTokenizer (default options) disagrees with HF's fast
/// tokenizer: why TorchBert does normalization and pre-tokenization itself. Each case asserts HF's ids for our
/// tokenizer and the library's (pinned-version) ids; if a library upgrade fixes a case, its assertion fails and
/// the note here can go.
/// </summary>
public class MlTokenizersDifferenceTests
{
    private static readonly Lazy<MlBertTokenizer> Ml = new(() => MlBertTokenizer.Create(VocabPath));

    [Theory]
    // ASCII symbols $ + < > | ~ ^ = are punctuation for HF; the library drops them.
    [InlineData("$100+ <tag> a|b ~x^y =z",
        new long[] { 101, 1002, 2531, 1009, 1026, 6415, 1028, 1037, 1064, 1038, 1066, 1060, 1034, 1061, 1027, 1062, 102 },
        new long[] { 101, 2531, 6415, 1037, 1038, 1060, 1061, 1062, 102 })]
    // \n \t \r are whitespace for HF; the library joins the words ("hello ##world").
    [InlineData("hello\nworld", new long[] { 101, 7592, 2088, 102 }, new long[] { 101, 7592, 11108, 102 })]
    [InlineData("hello\tworld", new long[] { 101, 7592, 2088, 102 }, new long[] { 101, 7592, 11108, 102 })]
    [InlineData("hello\rworld", new long[] { 101, 7592, 2088, 102 }, new long[] { 101, 7592, 11108, 102 })]
    // An emoji is a word for HF (→ [UNK]); the library drops it.
    [InlineData("I 😀 you", new long[] { 101, 1045, 100, 2017, 102 }, new long[] { 101, 1045, 2017, 102 })]
    // Zero-width characters are removed by HF (the words join); the library splits there.
    [InlineData("zero\u200bwidth", new long[] { 101, 5717, 9148, 11927, 2232, 102 }, new long[] { 101, 5717, 9381, 102 })]
    [InlineData("a\u200db", new long[] { 101, 11113, 102 }, new long[] { 101, 1037, 1038, 102 })]
    // Uncased HF strips accents (by default the library does not and gives [UNK]).
    [InlineData("Café naïve résumé", new long[] { 101, 7668, 15743, 13746, 102 }, new long[] { 101, 100, 100, 100, 102 })]
    [InlineData("e\u0301", new long[] { 101, 1041, 102 }, new long[] { 101, 100, 102 })]
    [InlineData("İstanbul", new long[] { 101, 9960, 102 }, new long[] { 101, 100, 102 })]
    // HF matches special tokens case-sensitively; the library lowercases first and turns "[mask]" into [MASK].
    [InlineData("[mask] [MASK]", new long[] { 101, 1031, 7308, 1033, 103, 102 }, new long[] { 101, 103, 103, 102 })]
    public void Library_differs_and_ours_matches_hf(string text, long[] hf, long[] library)
    {
        Uncased.Encode(text).InputIds.Should().Equal(hf);
        Ml.Value.EncodeToIds(text).Select(i => (long)i).Should().Equal(library);
    }

    [Fact]
    public void Library_word_piece_limit_counts_utf16_units()
    {
        // 60 × U+1D400 is 60 characters for HF (split normally) but 120 UTF-16 units for the library (over 100).
        var vocab = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "𝐀", "##𝐀" };
        string word = string.Concat(Enumerable.Repeat("𝐀", 60));
        BertTokenizer.FromVocab(vocab).Tokenize(word).Should().HaveCount(60).And.NotContain("[UNK]");
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', vocab)));
        var ml = Microsoft.ML.Tokenizers.WordPieceTokenizer.Create(stream);
        ml.EncodeToTokens(word, out _).Select(t => t.Value).Should().Equal("[UNK]");
    }
}
