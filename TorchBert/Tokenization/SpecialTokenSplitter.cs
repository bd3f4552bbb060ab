using System.Buffers;

namespace TorchBert.Tokenization;

/// <summary>
/// Finds special (added) tokens in raw text the way <c>tokenizers</c>' AddedVocabulary does for BERT's
/// <c>normalized: false</c> tokens: exact, case-sensitive, leftmost-longest matches; the text between them is
/// normalized and pre-tokenized normally, the matches become single tokens.
/// </summary>
internal sealed class SpecialTokenSplitter(IReadOnlyDictionary<string, int> tokens)
{
    private readonly KeyValuePair<string, int>[] _tokens =
        tokens.Where(t => t.Key.Length > 0).OrderByDescending(t => t.Key.Length).ToArray();

    // Candidate positions are where some token's first char occurs.
    private readonly SearchValues<char> _firstChars =
        SearchValues.Create(tokens.Keys.Where(k => k.Length > 0).Select(k => k[0]).Distinct().ToArray());

    /// <summary>Segments of <paramref name="text"/>: a special token (Id ≥ 0) or plain text (Id = -1).</summary>
    public List<(int Start, int End, int Id)> Split(string text)
    {
        var segments = new List<(int Start, int End, int Id)>();
        int plainStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            int next = text.AsSpan(i).IndexOfAny(_firstChars);
            if (next < 0) break;
            i += next;
            int matchLength = 0, matchId = -1;
            foreach (var (token, id) in _tokens)
            {
                // Longest first: the first hit at this position is the longest.
                if (text.AsSpan(i).StartsWith(token, StringComparison.Ordinal))
                {
                    matchLength = token.Length;
                    matchId = id;
                    break;
                }
            }
            if (matchId < 0)
            {
                i++;
                continue;
            }
            if (i > plainStart) segments.Add((plainStart, i, -1));
            segments.Add((i, i + matchLength, matchId));
            i += matchLength;
            plainStart = i;
        }
        if (plainStart < text.Length) segments.Add((plainStart, text.Length, -1));
        return segments;
    }
}
