using System.Text;

namespace TorchBert.Tokenization;

/// <summary>
/// Port of <c>tokenizers</c>' BertPreTokenizer: split on whitespace (removed), then isolate every punctuation
/// character as its own word. Returns [start, end) UTF-16 ranges into the normalized text.
/// </summary>
internal static class BertPreTokenizer
{
    public static List<(int Start, int End)> Split(string normalized)
    {
        var words = new List<(int Start, int End)>();
        int wordStart = -1;
        int i = 0;
        while (i < normalized.Length)
        {
            Rune.DecodeFromUtf16(normalized.AsSpan(i), out Rune r, out int used);
            if (BertCharacters.IsWhitespace(r) || BertCharacters.IsPunctuation(r))
            {
                if (wordStart >= 0) words.Add((wordStart, i));
                wordStart = -1;
                if (!BertCharacters.IsWhitespace(r)) words.Add((i, i + used));
            }
            else if (wordStart < 0)
            {
                wordStart = i;
            }
            i += used;
        }
        if (wordStart >= 0) words.Add((wordStart, normalized.Length));
        return words;
    }
}
