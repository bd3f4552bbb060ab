using TorchBert.Tokenization;

namespace TorchBert.Tests.Tokenization;

/// <summary>
/// bert-base-uncased's vocab.txt (id = line number − 1). Expected ids in these tests were worked out from
/// that file and HF's algorithm, and checked against HF <c>tokenizers</c> 0.23.2 (BertNormalizer +
/// BertPreTokenizer + WordPiece + TemplateProcessing, as bert-base-uncased's tokenizer.json).
/// </summary>
internal static class TokenizerFixture
{
    public static readonly string VocabPath = Path.Combine("Fixtures", "tiny-bert-mlm", "vocab.txt");

    private static readonly Lazy<BertTokenizer> LazyUncased = new(() => BertTokenizer.FromVocabFile(VocabPath));

    /// <summary>bert-base-uncased: lowercase + strip accents.</summary>
    public static BertTokenizer Uncased => LazyUncased.Value;

    /// <summary>The vocabulary's tokens in id order.</summary>
    public static string[] Tokens() => File.ReadAllLines(VocabPath);

    public static long[] Ids(params long[] ids) => ids;
}
