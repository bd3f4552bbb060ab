using TorchBert.Configuration;
using TorchBert.Tokenization;

namespace TorchBert.Analysis;

/// <summary>One sequence to look at: its token ids, token types and the token strings used as labels.</summary>
public sealed record TokenInput(long[] InputIds, long[] TokenTypeIds, string[] Tokens)
{
    /// <summary>Number of tokens (special tokens included).</summary>
    public int Length => InputIds.Length;

    /// <summary>
    /// Tokenizes <paramref name="text"/> (and <paramref name="pair"/>, shown with its <c>[SEP]</c>) as HF does, without
    /// truncation; a text longer than the model's <c>max_position_embeddings</c> is an error, not silently cut.
    /// </summary>
    public static TokenInput FromText(BertTokenizer tokenizer, BertConfig config, string text, string? pair = null)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new ArgumentException("the text is empty: give a sentence to tokenize");
        if (pair is not null && string.IsNullOrWhiteSpace(pair)) throw new ArgumentException("the second text of the pair is empty");
        var enc = tokenizer.Encode(text, pair);
        var input = new TokenInput(enc.InputIds, enc.TokenTypeIds, enc.Tokens);
        input.CheckFits(config);
        return input;
    }

    /// <summary>Ids straight from the caller; token strings default to the ids.</summary>
    public static TokenInput FromIds(long[] inputIds, long[]? tokenTypeIds = null, string[]? tokens = null)
    {
        if (inputIds.Length == 0) throw new ArgumentException("input_ids is empty: a sequence needs at least one token");
        tokenTypeIds ??= new long[inputIds.Length];
        tokens ??= inputIds.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (tokenTypeIds.Length != inputIds.Length || tokens.Length != inputIds.Length)
            throw new ArgumentException($"input_ids has {inputIds.Length} entries but token_type_ids {tokenTypeIds.Length} and tokens {tokens.Length}");
        return new TokenInput(inputIds, tokenTypeIds, tokens);
    }

    /// <summary>Throws when the sequence is longer than the model's position table.</summary>
    public void CheckFits(BertConfig config)
    {
        if (Length > config.MaxPositionEmbeddings)
            throw new ArgumentException(
                $"the text is {Length} tokens long; the model takes at most {config.MaxPositionEmbeddings} (max_position_embeddings): shorten it");
    }
}
