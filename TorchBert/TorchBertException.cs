namespace TorchBert;

/// <summary>
/// The base of every error TorchBert reports about its inputs (a bad checkpoint, config, tokenizer file, Hub answer,
/// data file, or a native runtime that can't load), so a host catches one type. Messages are one line, name the file
/// or value at fault, and say what fixes it. Programming errors (null arguments, wrong option values passed in code)
/// stay <see cref="ArgumentException"/>s.
/// </summary>
public class TorchBertException : Exception
{
    /// <summary>An error with a message and, optionally, what caused it.</summary>
    public TorchBertException(string message, Exception? inner = null) : base(message, inner) { }
}
