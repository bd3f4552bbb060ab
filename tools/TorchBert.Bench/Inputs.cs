using TorchBert.Tokenization;

namespace TorchBert.Bench;

/// <summary>
/// One benchmark batch as the flat row-major int64 arrays both engines get: real tokenized text (sentence pairs in
/// even rows, so token types 1 occur), rows of mixed real lengths padded to exactly <see cref="Length"/>.
/// </summary>
public sealed record Batch(int Size, int Length, long[] Ids, long[] Mask, long[] Types)
{
    public long[] Shape => [Size, Length];
    public int RealTokens => (int)Mask.Sum();

    /// <summary>Rows r = 0.. have real lengths T, T − T/8, T − 2T/8, T − 3T/8, repeating (a batch of 1 is full).</summary>
    public static Batch Make(BertTokenizer tokenizer, int size, int length, int seed = 0)
    {
        var ids = new long[size * length];
        var mask = new long[size * length];
        var types = new long[size * length];
        for (var r = 0; r < size; r++)
        {
            var real = Math.Max(4, length - r % 4 * length / 8);
            var (a, b) = (Corpus.Text(seed + 2 * r, 8 * length), Corpus.Text(seed + 2 * r + 1, 8 * length));
            var enc = tokenizer.Encode(a, r % 2 == 0 ? b : null,
                new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = real });
            if (enc.Length != real) throw new InvalidOperationException($"row {r}: {enc.Length} tokens, wanted {real}");
            Array.Copy(enc.InputIds, 0, ids, r * length, real);
            Array.Copy(enc.AttentionMask, 0, mask, r * length, real);
            Array.Copy(enc.TokenTypeIds, 0, types, r * length, real);
        }
        return new Batch(size, length, ids, mask, types);
    }
}

/// <summary>Deterministic English-like text from a fixed pool of sentences (punctuation, numbers, a few accents).</summary>
public static class Corpus
{
    private static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "A man is eating a piece of bread in the park, next to the old fountain.",
        "BERT was pre-trained on BooksCorpus (800M words) and English Wikipedia (2,500M words).",
        "Hello, Mr. Bert! How is it going today?",
        "She said: \"we'll meet at 10:30 in the café near the station\".",
        "Transformers use self-attention to relate every token to every other token in the sequence.",
        "The weather in Zürich was cold, but the fondue was excellent.",
        "In 1998, the company's revenue grew by 12.5% to $3.2 billion.",
        "Why do cats always land on their feet? Nobody really knows for sure.",
        "Machine learning models can be fast, accurate and easy to deploy — if you measure them.",
        "The children played football until it was too dark to see the ball.",
        "Please don't forget to bring your passport, tickets and a good book for the flight.",
        "Résumé writing is an art; naïve candidates often list every job they've ever had.",
        "Scientists discovered a new species of frog in the rainforest last year.",
        "Our tokenizer splits unaffable into three word pieces: un, ##aff and ##able.",
        "After the meeting, everyone went home and the office was quiet again.",
    ];

    /// <summary>Sentences from the pool, starting at <paramref name="seed"/>, until at least <paramref name="chars"/> characters.</summary>
    public static string Text(int seed, int chars)
    {
        var rng = new Random(seed);
        var parts = new List<string>();
        var n = 0;
        while (n < chars)
        {
            var s = Sentences[rng.Next(Sentences.Length)];
            parts.Add(s);
            n += s.Length + 1;
        }
        return string.Join(' ', parts);
    }

    /// <summary><paramref name="count"/> texts of 1 to <paramref name="maxSentences"/> sentences.</summary>
    public static List<string> Lines(int count, int maxSentences, int seed = 7)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => string.Join(' ', Enumerable.Range(0, 1 + rng.Next(maxSentences)).Select(_ => Sentences[rng.Next(Sentences.Length)])))
            .ToList();
    }
}
