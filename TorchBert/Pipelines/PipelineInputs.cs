namespace TorchBert.Pipelines;

/// <summary>A text, or a text pair (HF's <c>{"text": ..., "text_pair": ...}</c>). A string converts to one.</summary>
public sealed record TextPair(string Text, string? Pair = null)
{
    public static implicit operator TextPair(string text) => new(text);
    public override string ToString() => Pair is null ? Text : $"{Text} | {Pair}";
}

/// <summary>One question-answering input (HF's <c>question=..., context=...</c>).</summary>
public sealed record QuestionContext(string Question, string Context)
{
    public override string ToString() => $"{Question} | {Context}";
}

/// <summary>
/// Library results carry UTF-16 indices (so <c>text[start..end]</c> works in C#); HF's Python results count code
/// points. They differ only after characters outside the BMP (emoji, some CJK), each one UTF-16 pair but one code point.
/// </summary>
public static class CodePoints
{
    /// <summary>The code-point index (Python's <c>str</c> index) of UTF-16 index <paramref name="utf16Index"/> in <paramref name="text"/>.</summary>
    public static int FromUtf16(string text, int utf16Index)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (utf16Index < 0 || utf16Index > text.Length)
            throw new ArgumentOutOfRangeException(nameof(utf16Index), utf16Index, $"index must be in [0, {text.Length}]");
        int n = 0;
        for (int i = 0; i < utf16Index; i++)
            if (!(char.IsLowSurrogate(text[i]) && i > 0 && char.IsHighSurrogate(text[i - 1]))) n++;
        return n;
    }

    /// <summary>Python's <c>len(s)</c>: the number of code points.</summary>
    public static int Length(string s) => FromUtf16(s, s.Length);
}
