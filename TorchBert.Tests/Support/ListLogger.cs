using Microsoft.Extensions.Logging;

namespace TorchBert.Tests.Support;

/// <summary>An <see cref="ILogger"/> that keeps every message (rendered) with its level; <see cref="ToString"/> joins them one per line.</summary>
public sealed class ListLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> entries = [];

    /// <summary>Everything logged, in order.</summary>
    public IReadOnlyList<(LogLevel Level, string Message)> Entries { get { lock (entries) return entries.ToList(); } }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (entries) entries.Add((logLevel, formatter(state, exception)));
    }

    public override string ToString() => string.Join('\n', Entries.Select(e => e.Message)) + (Entries.Count > 0 ? "\n" : "");
}
