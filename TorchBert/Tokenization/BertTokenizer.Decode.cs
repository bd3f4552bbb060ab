using System.Text;

namespace TorchBert.Tokenization;

public sealed partial class BertTokenizer
{
    /// <summary>
    /// HF <c>decode(ids, skip_special_tokens, clean_up_tokenization_spaces)</c>: tokens joined by spaces, a
    /// <c>##</c> continuation glued to the previous token (not on the first token), each token cleaned by the
    /// WordPiece decoder (" ." → "." etc.), then, when <paramref name="cleanUpTokenizationSpaces"/>, HF's
    /// <c>clean_up_tokenization</c> over the text (" n't" → "n't", " ' " → "'", ...). Ids outside the
    /// vocabulary are skipped, as HF's fast tokenizer does.
    /// </summary>
    public string Decode(IEnumerable<long> ids, bool skipSpecialTokens = false, bool cleanUpTokenizationSpaces = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (long id in ids)
        {
            if (!TryGetToken(id, out string token)) continue;
            if (skipSpecialTokens && _specialIds.Contains((int)id)) continue;
            tokens.Add(token);
        }
        string text = ConvertTokensToString(tokens);
        return cleanUpTokenizationSpaces ? CleanUpTokenization(text) : text;
    }

    /// <summary>
    /// HF's fast-tokenizer <c>convert_tokens_to_string</c> (what the pipelines use for an entity's word):
    /// <c>tokenizers</c>' WordPiece decoder — a <c>##</c> continuation glued to the previous token (not on the first
    /// token), every other token after a space, each token cleaned (" ," → ",", " ." → ".", ...; its cleanup is on in
    /// every BERT tokenizer.json and in the one HF converts from a vocab.txt). Not the slow tokenizer's
    /// <c>" ".join(tokens).replace(" ##", "")</c>, which keeps " ,".
    /// </summary>
    public string ConvertTokensToString(IEnumerable<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var sb = new StringBuilder();
        bool first = true;
        string prefix = _model.ContinuingSubwordPrefix;
        foreach (var t in tokens)
        {
            var token = t;
            if (!first)
                token = token.StartsWith(prefix, StringComparison.Ordinal) ? token[prefix.Length..] : " " + token;
            sb.Append(CleanUpDecoderToken(token));
            first = false;
        }
        return sb.ToString();
    }

    /// <inheritdoc cref="Decode(IEnumerable{long}, bool, bool)"/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false, bool cleanUpTokenizationSpaces = true) =>
        Decode(ids.Select(i => (long)i), skipSpecialTokens, cleanUpTokenizationSpaces);

    /// <summary>HF <c>batch_decode</c>: <see cref="Decode(IEnumerable{long}, bool, bool)"/> of each row.</summary>
    public string[] DecodeBatch(IEnumerable<IEnumerable<long>> rows, bool skipSpecialTokens = false,
        bool cleanUpTokenizationSpaces = true) =>
        rows.Select(r => Decode(r, skipSpecialTokens, cleanUpTokenizationSpaces)).ToArray();

    /// <summary>HF transformers' <c>clean_up_tokenization</c>, exactly (ordinal replacements, in this order).</summary>
    public static string CleanUpTokenization(string text) =>
        text.Replace(" .", ".", StringComparison.Ordinal)
            .Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal)
            .Replace(" ,", ",", StringComparison.Ordinal)
            .Replace(" ' ", "'", StringComparison.Ordinal)
            .Replace(" n't", "n't", StringComparison.Ordinal)
            .Replace(" 'm", "'m", StringComparison.Ordinal)
            .Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal)
            .Replace(" 're", "'re", StringComparison.Ordinal);

    /// <summary><c>tokenizers</c>' WordPiece decoder cleanup, applied to each token (with its leading space).</summary>
    private static string CleanUpDecoderToken(string token) =>
        token.Replace(" .", ".", StringComparison.Ordinal)
            .Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal)
            .Replace(" ,", ",", StringComparison.Ordinal)
            .Replace(" ' ", "'", StringComparison.Ordinal)
            .Replace(" n't", "n't", StringComparison.Ordinal)
            .Replace(" 'm", "'m", StringComparison.Ordinal)
            .Replace(" do not", " don't", StringComparison.Ordinal)
            .Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal)
            .Replace(" 're", "'re", StringComparison.Ordinal);
}

public sealed partial class BertTokenizer
{
    /// <summary>
    /// An encoding of ids that are already tokens (TEI's <c>inputs</c> as token ids): taken as they are (no special
    /// tokens added), one segment, all attended, tokens looked up in the vocabulary, no character offsets.
    /// </summary>
    public BertEncoding EncodeIds(IReadOnlyList<long> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var n = ids.Count;
        var inputIds = new long[n];
        var special = new long[n];
        var tokens = new string[n];
        for (int i = 0; i < n; i++)
        {
            var id = ids[i];
            if (id < 0 || id >= VocabSize) throw new ArgumentException($"token id {id} at position {i} is outside the vocabulary (0..{VocabSize - 1})");
            inputIds[i] = id;
            tokens[i] = ConvertIdToToken(id);
            special[i] = id == ClsTokenId || id == SepTokenId || id == PadTokenId || id == MaskTokenId ? 1 : 0;
        }
        var mask = new long[n];
        Array.Fill(mask, 1L);
        return new BertEncoding(inputIds, new long[n], mask, special, tokens, new (int, int)[n]);
    }
}
