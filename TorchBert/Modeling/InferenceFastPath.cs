using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace TorchBert.Modeling;

/// <summary>
/// The CPU inference fast path: BERT's Linear layers run on libtorch's oneDNN kernels with their weights packed once
/// for this CPU, the feed-forward activation and the residual adds fused into the matrix products. It engages only for
/// CPU tensors of float32 or bfloat16, with autograd off (<c>inference_mode()</c> or <c>no_grad()</c>) and the model in
/// eval mode; everywhere else (training, CUDA, other dtypes, a libtorch without the ops) the layers run
/// <c>F.linear</c> as before. See docs/performance.md.
/// <para>
/// The packed weight replaces the plain one while the model infers (no second copy of the weights): the Linear's
/// <c>weight</c> parameter then holds a placeholder, and the plain values come back, bit for bit, when the model is
/// asked for them: <c>state_dict()</c> (and so saving), <c>train()</c>, <c>to(...)</c>, <c>load_state_dict</c>,
/// or <see cref="BertPreTrainedModel.UseFastPath"/> = false. After <c>state_dict()</c> the model keeps both
/// copies (the dictionary's tensors are the live parameters) until <c>train()</c>/<c>to()</c>/<c>load_state_dict</c>.
/// Read a Linear's weight through the model (not a submodule) after fast inference, or turn the fast path off.
/// </para>
/// </summary>
public static class InferenceFastPath
{
    /// <summary>The environment variable that turns the fast path off for the process: <c>TORCHBERT_FAST_PATH=0</c>.</summary>
    public const string EnvironmentVariable = "TORCHBERT_FAST_PATH";

    /// <summary>
    /// Process-wide switch (default on, off when <see cref="EnvironmentVariable"/> is 0/false/off). Off, every model
    /// runs F.linear; a model's own switch is <see cref="BertPreTrainedModel.UseFastPath"/>.
    /// </summary>
    public static bool Enabled { get; set; } = !IsOff(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>Whether libtorch's oneDNN linear ops are usable in this process (loads them on first call).</summary>
    public static bool IsAvailable => OneDnn.Ops is not null;

    /// <summary>One line saying what the fast path uses here, or why it falls back to F.linear.</summary>
    public static string Status => Enabled ? OneDnn.Status : $"off ({EnvironmentVariable}=0 or InferenceFastPath.Enabled = false); using F.linear";

    /// <summary>
    /// Where the fast path's one-line notes go (e.g. "not available on macOS …; using F.linear"), each once per process;
    /// null sends them to <see cref="Trace"/>.
    /// </summary>
    public static Action<string>? Log { get; set; }

    internal static bool IsOff(string? value) =>
        value?.Trim().ToLowerInvariant() is "0" or "false" or "off" or "no";
}

/// <summary>
/// Writes each distinct fast-path note once: to the model's logger (<see cref="BertPreTrainedModel.Logger"/>, once per
/// logger), else to <see cref="InferenceFastPath.Log"/>, else to Trace. What the fast path uses is Information; a
/// fallback to F.linear is a Warning.
/// </summary>
internal static class FastPathLog
{
    private static readonly object NoLogger = new();

    // The notes each logger has heard, held weakly: a logger (and what it references) is not kept alive by this table.
    private static readonly ConditionalWeakTable<object, ConcurrentDictionary<string, byte>> Seen = new();

    public static void Write(string message, ILogger? logger = null, LogLevel level = LogLevel.Information)
    {
        if (!Seen.GetOrCreateValue(logger ?? NoLogger).TryAdd(message, 0)) return;
        if (logger is not null) logger.Log(level, "{FastPathNote}", message);
        else if (InferenceFastPath.Log is { } log) log("torchbert: " + message);
        else Trace.TraceInformation("torchbert: " + message);
    }
}
