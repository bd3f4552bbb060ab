using System.Globalization;
using System.Text;

namespace TorchBert.Tokenization;

/// <summary>Normalized text plus, for each of its UTF-16 chars, the span of the original text it came from.</summary>
internal readonly record struct NormalizedText(string Text, int[] Starts, int[] Ends);

/// <summary>
/// Port of <c>tokenizers</c>' BertNormalizer, applied in its order: clean_text (drop U+0000, U+FFFD and
/// controls; whitespace → space), handle_chinese_chars (spaces around CJK ideographs), strip_accents (NFD, then drop
/// Mn), lowercase (per character, full mapping). strip_accents defaults to lowercase when not given, as in HF.
/// Each output char keeps the original span it came from, for offsets.
/// </summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool? stripAccents, bool lowercase)
{
    public bool CleanText { get; } = cleanText;
    public bool HandleChineseChars { get; } = handleChineseChars;
    public bool StripAccents { get; } = stripAccents ?? lowercase;
    public bool Lowercase { get; } = lowercase;

    private readonly record struct Item(Rune Rune, int Start, int End);

    /// <summary>Normalizes <paramref name="text"/>[<paramref name="start"/>..<paramref name="end"/>).</summary>
    public NormalizedText Normalize(string text, int start, int end)
    {
        ReadOnlySpan<char> span = text.AsSpan(start, end - start);
        if (!span.ContainsAnyExceptInRange(' ', '~')) return NormalizePrintableAscii(span, start);
        var items = new List<Item>(end - start);
        int i = start;
        while (i < end)
        {
            char c = text[i];
            if (c is >= ' ' and <= '~')
            {
                items.Add(new Item(new Rune(c), i, i + 1));
                i++;
                continue;
            }
            // A lone surrogate decodes as U+FFFD and is dropped by clean_text (Rust strings cannot hold one).
            Rune.DecodeFromUtf16(text.AsSpan(i, end - i), out Rune r, out int used);
            int s = i, e = i + used;
            i = e;
            if (CleanText)
            {
                if (r.Value is 0 or 0xFFFD || BertCharacters.IsControl(r)) continue;
                if (BertCharacters.IsWhitespace(r)) r = new Rune(' ');
            }
            if (HandleChineseChars && BertCharacters.IsChineseChar(r.Value))
            {
                items.Add(new Item(new Rune(' '), s, e));
                items.Add(new Item(r, s, e));
                items.Add(new Item(new Rune(' '), s, e));
                continue;
            }
            items.Add(new Item(r, s, e));
        }
        if (StripAccents) items = DecomposeAndStripMarks(items);
        return Build(items);
    }

    /// <summary>
    /// NFD then drop category Mn. NFD only reorders marks after a starter, so it is applied to each run of one
    /// character plus its following combining marks; ASCII is already NFD.
    /// </summary>
    private static List<Item> DecomposeAndStripMarks(List<Item> items)
    {
        var result = new List<Item>(items.Count);
        int k = 0;
        while (k < items.Count)
        {
            int j = k + 1;
            while (j < items.Count && BertCharacters.IsCombiningMark(items[j].Rune)) j++;
            if (j == k + 1)
            {
                // The common case, one character: its own decomposition, all with its span.
                Item item = items[k++];
                if (item.Rune.IsAscii)
                {
                    result.Add(item);
                    continue;
                }
                foreach (Rune r in Decompose(item.Rune).EnumerateRunes())
                {
                    if (!BertCharacters.IsNonSpacingMark(r)) result.Add(item with { Rune = r });
                }
                continue;
            }
            List<Item> run = items.GetRange(k, j - k);
            string[] pieces = run.Select(item => Decompose(item.Rune)).ToArray();
            string joined = string.Concat(pieces);
            string nfd = run.Any(item => KeepAsIs(item.Rune))
                ? joined
                : string.Concat(run.Select(item => item.Rune.ToString())).Normalize(NormalizationForm.FormD);
            // Each output char keeps the span of the input char it came from (NFD may have reordered marks).
            var sources = new List<Item>();
            for (int m = 0; m < run.Count; m++)
            {
                foreach (Rune r in pieces[m].EnumerateRunes()) sources.Add(new Item(r, run[m].Start, run[m].End));
            }
            foreach (Rune r in nfd.EnumerateRunes())
            {
                int from = nfd == joined ? 0 : sources.FindIndex(s => s.Rune == r);
                Item source = sources[from];
                sources.RemoveAt(from);
                if (!BertCharacters.IsNonSpacingMark(r)) result.Add(source);
            }
            k = j;
        }
        return result;
    }

    /// <summary>
    /// NFD of one character. ASCII is its own NFD; .NET refuses to normalize unassigned code points (which have
    /// no decomposition anyway); a few newer decompositions HF's tables lack are skipped.
    /// </summary>
    private static string Decompose(Rune r) =>
        r.IsAscii || KeepAsIs(r) ? r.ToString() : r.ToString().Normalize(NormalizationForm.FormD);

    private static bool KeepAsIs(Rune r) =>
        Rune.GetUnicodeCategory(r) == UnicodeCategory.OtherNotAssigned || UnicodeExceptions.KeepsComposed(r.Value);

    /// <summary>Printable ASCII needs no cleaning, splitting or decomposition: only lowercasing.</summary>
    private NormalizedText NormalizePrintableAscii(ReadOnlySpan<char> span, int offset)
    {
        var starts = new int[span.Length];
        var ends = new int[span.Length];
        for (int i = 0; i < span.Length; i++)
        {
            starts[i] = offset + i;
            ends[i] = offset + i + 1;
        }
        string normalized = Lowercase
            ? string.Create(span.Length, span, static (dest, src) => src.ToLowerInvariant(dest))
            : span.ToString();
        return new NormalizedText(normalized, starts, ends);
    }

    private NormalizedText Build(List<Item> items)
    {
        var sb = new StringBuilder(items.Count);
        var starts = new List<int>(items.Count);
        var ends = new List<int>(items.Count);
        Span<char> buffer = stackalloc char[2];
        foreach (Item item in items)
        {
            if (Lowercase && item.Rune.Value == 0x130)
            {
                // Rust char::to_lowercase maps İ to "i̇" (SpecialCasing); .NET's invariant mapping leaves it as is.
                Append(sb, starts, ends, "i\u0307", item);
                continue;
            }
            Rune r = Lowercase ? ToLower(item.Rune) : item.Rune;
            int n = r.EncodeToUtf16(buffer);
            Append(sb, starts, ends, buffer[..n], item);
        }
        return new NormalizedText(sb.ToString(), starts.ToArray(), ends.ToArray());
    }

    private static Rune ToLower(Rune r)
    {
        if (r.IsAscii) return r.Value is >= 'A' and <= 'Z' ? new Rune(r.Value + 32) : r;
        return UnicodeExceptions.TryToLower(r.Value, out int lower) ? new Rune(lower) : Rune.ToLowerInvariant(r);
    }

    private static void Append(StringBuilder sb, List<int> starts, List<int> ends, ReadOnlySpan<char> chars, Item item)
    {
        sb.Append(chars);
        for (int c = 0; c < chars.Length; c++)
        {
            starts.Add(item.Start);
            ends.Add(item.End);
        }
    }
}
