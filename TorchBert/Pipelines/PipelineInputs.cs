namespace TorchBert.Pipelines;

/// <summary>A text, or a text pair (HF's <c>{"text": ..., "text_pair": ...}</c>). A string converts to one.</summary>
public sealed record TextPair(string Text, string? Pair = null)
{
    /// <summary>A single text (no pair).</summary>
    public static implicit operator TextPair(string text) => new(text);
    /// <inheritdoc/>
    public override string ToString() => Pair is null ? Text : $"{Text} | {Pair}";
}

/// <summary>One question-answering input (HF's <c>question=..., context=...</c>).</summary>
public sealed record QuestionContext(string Question, string Context)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Question} | {Context}";
}
