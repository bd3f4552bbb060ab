using Microsoft.Extensions.Logging;

namespace TorchBert.Cli;

/// <summary>
/// The CLI's logger for what the library reports: warnings as <c>torchbert: warning: …</c>, information as
/// <c>torchbert: …</c>, debug (a pipeline's <c>--verbose</c> trace) as the bare line; on standard error.
/// </summary>
internal sealed class StderrLogger : ILogger
{
    public static readonly StderrLogger Instance = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var message = formatter(state, exception);
        Console.Error.WriteLine(logLevel switch
        {
            >= LogLevel.Warning => $"torchbert: warning: {message}",
            LogLevel.Information => $"torchbert: {message}",
            _ => message,
        });
    }
}

/// <summary><see cref="StderrLogger"/> for services that take an <see cref="ILogger{TCategoryName}"/>.</summary>
internal sealed class StderrLogger<T> : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => StderrLogger.Instance.IsEnabled(logLevel);
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        StderrLogger.Instance.Log(logLevel, eventId, state, exception, formatter);
}
