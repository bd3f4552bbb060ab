// .NET's view of every code point (category, NFD, invariant lowercase, White_Space), to diff against HF's.
// Usage: dotnet run dotnet_unicode_dump.cs   (writes dotnet_unicode.tsv; see README.md)
using System.Globalization;
using System.Text;

static string Hex(string s) => string.Join(" ", s.EnumerateRunes().Select(r => r.Value.ToString("x")));

var sb = new StringBuilder();
for (int cp = 0; cp <= 0x10FFFF; cp++)
{
    if (cp is >= 0xD800 and <= 0xDFFF) continue;
    var r = new Rune(cp);
    var cat = Rune.GetUnicodeCategory(r);
    string s = r.ToString();
    string nfd = cat == UnicodeCategory.OtherNotAssigned ? s : s.Normalize(NormalizationForm.FormD);
    sb.Append($"{cp:x}\t{(int)cat}\t{Hex(nfd)}\t{Rune.ToLowerInvariant(r).Value:x}\t{(Rune.IsWhiteSpace(r) ? 1 : 0)}\n");
}
File.WriteAllText("dotnet_unicode.tsv", sb.ToString());
