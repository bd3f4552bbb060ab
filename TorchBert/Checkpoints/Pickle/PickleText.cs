using System.Globalization;
using System.Text;

namespace TorchBert.Checkpoints;

/// <summary>Decoding of pickle string payloads: strict UTF-8, protocol-0 quoted strings and raw-unicode-escape.</summary>
internal static class PickleText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Utf8(byte[] bytes, PickleInput input)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw input.Fail("string is not valid UTF-8");
        }
    }

    /// <summary>STRING: a Python repr such as <c>'abc'</c> with backslash escapes (\\ \' \" \n \r \t \xhh).</summary>
    public static string ParseQuoted(string line, PickleInput input)
    {
        if (line.Length < 2 || line[0] != line[^1] || (line[0] != '\'' && line[0] != '"'))
            throw input.Fail("STRING argument is not a quoted string");
        var sb = new StringBuilder();
        for (int i = 1; i < line.Length - 1; i++)
        {
            char c = line[i];
            if (c != '\\') { sb.Append(c); continue; }
            if (++i >= line.Length - 1) throw input.Fail("STRING ends inside an escape");
            switch (line[i])
            {
                case '\\': case '\'': case '"': sb.Append(line[i]); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'x' when i + 2 < line.Length - 1 && TryHex(line.AsSpan(i + 1, 2), out int v):
                    sb.Append((char)v);
                    i += 2;
                    break;
                default: throw input.Fail($"unsupported escape '\\{line[i]}' in STRING");
            }
        }
        return sb.ToString();
    }

    /// <summary>UNICODE: raw-unicode-escape, i.e. Latin-1 bytes with <c>\uXXXX</c> and <c>\UXXXXXXXX</c> escapes.</summary>
    public static string ParseRawUnicodeEscape(byte[] line, PickleInput input)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < line.Length; i++)
        {
            int digits = line[i] == '\\' && i + 1 < line.Length ? line[i + 1] switch { (byte)'u' => 4, (byte)'U' => 8, _ => 0 } : 0;
            if (digits == 0) { sb.Append((char)line[i]); continue; }
            if (i + 2 + digits > line.Length || !TryHex(Encoding.Latin1.GetString(line, i + 2, digits), out int cp)
                || cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF && digits == 8))
                throw input.Fail("bad \\u escape in UNICODE");
            if (cp >= 0xD800 && cp <= 0xDFFF) sb.Append((char)cp); else sb.Append(char.ConvertFromUtf32(cp));
            i += 1 + digits;
        }
        return sb.ToString();
    }

    private static bool TryHex(ReadOnlySpan<char> s, out int value) =>
        int.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
}
