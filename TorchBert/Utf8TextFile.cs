using System.Text;

namespace TorchBert;

/// <summary>
/// Reads UTF-8 text files strictly: invalid UTF-8 is an error naming the file and line (1-based), never replaced by
/// U+FFFD. A leading UTF-8 byte-order mark is skipped. The one reader for every text input (data files, --input files).
/// </summary>
public static class Utf8TextFile
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The lines of <paramref name="path"/> with their 1-based numbers (split at '\n', a trailing '\r' removed). A line
    /// that is not valid UTF-8 throws the exception <paramref name="error"/> makes of the message (a
    /// <see cref="TorchBertException"/> by default); a missing file is a <see cref="FileNotFoundException"/>.
    /// </summary>
    public static IEnumerable<(int Line, string Text)> Lines(string path, Func<string, Exception>? error = null) =>
        Lines(Bytes(path), path, error);

    /// <summary>The whole file as text, line ends as they are; invalid UTF-8 is an error naming the line, as <see cref="Lines(string, Func{string, Exception}?)"/>.</summary>
    public static string ReadAllText(string path, Func<string, Exception>? error = null)
    {
        var bytes = Bytes(path);
        var start = BomLength(bytes);
        try { return Strict.GetString(bytes, start, bytes.Length - start); }
        catch (DecoderFallbackException)
        {
            foreach (var _ in Lines(bytes, path, error)) { } // throws, naming the first bad line
            throw;
        }
    }

    private static byte[] Bytes(string path) =>
        File.Exists(path) ? File.ReadAllBytes(path) : throw new FileNotFoundException($"{path}: file not found", path);

    private static int BomLength(byte[] bytes) => bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;

    private static IEnumerable<(int Line, string Text)> Lines(byte[] bytes, string path, Func<string, Exception>? error)
    {
        int start = BomLength(bytes), number = 0;
        while (start < bytes.Length)
        {
            number++;
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0) end = bytes.Length;
            var length = end - start;
            if (length > 0 && bytes[start + length - 1] == '\r') length--;
            string text;
            try { text = Strict.GetString(bytes, start, length); }
            catch (DecoderFallbackException e)
            {
                var column = e.Index >= 0 ? $", byte {e.Index + 1}" : "";
                var message = $"{path}:{number}: not valid UTF-8 text{column} (save the file as UTF-8)";
                throw error?.Invoke(message) ?? new TorchBertException(message);
            }
            yield return (number, text);
            start = end + 1;
        }
    }
}
