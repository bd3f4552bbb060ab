using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Tokenization;

namespace TorchBert.Cli;

/// <summary>
/// Shared plumbing: parsing (one-line usage errors, exit 2), running a command body (one-line errors, exit 1; Ctrl-C,
/// exit 130), model resolution, JSON output.
/// </summary>
internal static partial class Cli
{
    /// <summary>Exit codes: 0 done, 1 a runtime or data error, 2 a bad command line, 130 interrupted (Ctrl-C / SIGINT).</summary>
    public const int Failed = 1, Usage = 2, Interrupted = 130;

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Parses and runs: a bad command line is one line on stderr and exit code 2 (System.CommandLine would print every
    /// error plus the whole help text and exit 1). Response files (<c>@file</c>) are off: a text may start with '@'.
    /// </summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        // An unknown option is the first thing to say (it may be why a required value seems missing).
        string? error = StrayOption(parsed) ?? Unmatched(parsed)
                        ?? (parsed.Errors.Count > 0 ? string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.'))) : null);
        if (error is not null)
        {
            var dash = error.StartsWith("unknown option", StringComparison.Ordinal) ? "; a text that starts with '-' goes after --" : "";
            Console.Error.WriteLine($"torchbert: error: {error} (see '{CommandPath(parsed.CommandResult)} --help'{dash})");
            return Usage;
        }
        // Ctrl-C is handled by Run (cancellation, exit 130), not by System.CommandLine's 2-second kill.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>"torchbert plot attention": the full path of the command that was parsed.</summary>
    private static string CommandPath(CommandResult? result)
    {
        var names = new List<string>();
        for (var r = result; r is not null; r = r.Parent as CommandResult)
            names.Insert(0, r.Command is RootCommand ? "torchbert" : r.Command.Name);
        return names.Count == 0 ? "torchbert" : string.Join(' ', names);
    }

    /// <summary>
    /// System.CommandLine hands an unknown option (<c>--topk</c>) to a text argument as its value; that must be an error.
    /// A token before <c>--</c> that looks like an option (-x, --xyz) and landed in an argument is reported by name.
    /// </summary>
    private static string? StrayOption(ParseResult parsed)
    {
        var tokens = parsed.Tokens;
        var end = tokens.Select((t, i) => (t, i)).FirstOrDefault(x => x.t.Type == TokenType.DoubleDash, (null!, tokens.Count)).Item2;
        var beforeDash = new HashSet<Token>(tokens.Take(end), ReferenceEqualityComparer.Instance);
        foreach (var argument in parsed.CommandResult.Children.OfType<ArgumentResult>())
            foreach (var token in argument.Tokens)
                if (beforeDash.Contains(token) && LooksLikeOption().IsMatch(token.Value))
                    return $"unknown option '{token.Value}'";
        return null;
    }

    /// <summary>A token System.CommandLine could not place: an unknown option, or one argument too many.</summary>
    private static string? Unmatched(ParseResult parsed) =>
        parsed.UnmatchedTokens.FirstOrDefault() is not { } token ? null
        : LooksLikeOption().IsMatch(token) ? $"unknown option '{token}'" : $"unexpected argument '{token}'";

    [GeneratedRegex(@"^--?[^\s\d-]")]
    private static partial Regex LooksLikeOption();

    /// <summary>
    /// Runs a command body that cannot be interrupted midway: Ctrl-C ends the process at once (exit 130; what it writes
    /// is written atomically, so nothing partial stays). Failures become one line, see <see cref="RunAsync"/>.
    /// </summary>
    public static Task<int> Run(Func<int> body) => RunAsync(_ => Task.FromResult(body()), interruptible: false);

    /// <summary>A body that watches the token (Ctrl-C / SIGINT / SIGTERM cancels it); it runs off the main thread.</summary>
    public static Task<int> Run(Func<CancellationToken, int> body) => RunAsync(ct => Task.Run(() => body(ct), CancellationToken.None));

    /// <summary>
    /// Runs a command body; any failure becomes "torchbert: error: ..." on one line and exit code 1 (2 for usage).
    /// With <paramref name="interruptible"/>, the first Ctrl-C cancels the body's token (it stops where it can stop
    /// cleanly and the command exits 130); a second one ends the process at once.
    /// </summary>
    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> body, bool interruptible = true)
    {
        // Hub downloads (any --model that is a Hub id) draw a progress bar on stderr.
        var bar = new ProgressBar();
        ModelLocator.Default = new ModelLocator(
            new Hub.HubClient(Hub.HubOptions.FromEnvironment() with { Progress = bar.Report }),
            new StderrLogger<ModelLocator>());   // the library reports through the CLI's stderr logger
        try { return await Guarded(body, interruptible); }
        finally { ProgressLine.End(); }
    }

    private static async Task<int> Guarded(Func<CancellationToken, Task<int>> body, bool interruptible)
    {
        using var interrupt = interruptible ? new Interrupt() : null;
        var ct = interrupt?.Token ?? CancellationToken.None;
        try
        {
            return await body(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            ProgressLine.End();
            Console.Error.WriteLine("torchbert: interrupted");
            return Interrupted;
        }
        catch (InterruptedException e)
        {
            ProgressLine.End();
            Console.Error.WriteLine($"torchbert: interrupted: {e.Message}");
            return Interrupted;
        }
        catch (Exception e) when (e is ArgumentException or TorchBertException
                                       or IOException or UnauthorizedAccessException or UsageException
                                       or FormatException or JsonException or InvalidDataException or NotSupportedException)
        {
            ProgressLine.End();
            var message = Messages.Clean(e);
            Console.Error.WriteLine($"torchbert: error: {message}");
            // A bad option value the library caught ("top_k must be >= 1" → "--top-k must be >= 1") is a usage error too.
            return e is UsageException || (e is ArgumentException && message.StartsWith("--", StringComparison.Ordinal)) ? Usage : Failed;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("TORCHBERT_DEBUG") != "1")
        {
            ProgressLine.End();
            Console.Error.WriteLine($"torchbert: error: {e.GetType().Name}: {Messages.Clean(e)} (set TORCHBERT_DEBUG=1 for the trace)");
            return Failed;
        }
    }

    /// <summary>--model, or the embedded default (imported into weights/ on first use).</summary>
    public static string ModelOrDefault(string? model)
    {
        if (model is not null) return model;
        NativeRuntime.EnsureLoaded();
        try
        {
            return DefaultModel.EnsureInstalled(StderrLogger.Instance);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            var root = DefaultModel.WeightsRoot();
            var where = Environment.GetEnvironmentVariable("TORCHBERT_WEIGHTS") is { Length: > 0 } env
                ? $"TORCHBERT_WEIGHTS={env}" : $"{root} (set TORCHBERT_WEIGHTS to choose another folder)";
            throw new IOException($"cannot import the default model {DefaultModel.Name} into {where}: {Messages.Clean(e)}", e);
        }
    }

    /// <summary>The Hub id fill-mask uses without --model (the embedded all-MiniLM-L6-v2 has no MLM head).</summary>
    public const string DefaultMlmModel = "bert-base-uncased";

    /// <summary>fill-mask needs an MLM head: --model, else the Hub's bert-base-uncased (downloaded once into the HF cache).</summary>
    public static string MlmModel(string? model) => model ?? DefaultMlmModel;

    public static void WriteJson<T>(T value) => Console.WriteLine(JsonSerializer.Serialize(value, Json));

    /// <summary>
    /// The one rule for texts, on every command: a text that is empty or only whitespace is a usage error naming its
    /// position (1-based) — there is nothing to classify, embed or plot.
    /// </summary>
    public static void CheckTexts(IReadOnlyList<string> texts, string what = "text")
    {
        for (int i = 0; i < texts.Count; i++)
            if (string.IsNullOrWhiteSpace(texts[i]))
                throw new UsageException(texts.Count == 1 ? $"the {what} is empty" : $"{what} {i + 1} of {texts.Count} is empty");
    }

    /// <summary>An output folder (created with its parents if missing, as HF's output_dir) must not be a file; checked before any work.</summary>
    public static void CheckOutputFolder(string path, string option)
    {
        if (File.Exists(Path.GetFullPath(path))) throw new UsageException($"{option} {path} is a file; give a folder");
    }

    /// <summary>The folder an output file goes into must exist: checked before any work, named in the error.</summary>
    public static void CheckOutputFile(string path, string option)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new UsageException($"{option} {path} is a folder; give a file name");
        var folder = Path.GetDirectoryName(full);
        if (folder is not null && !Directory.Exists(folder))
            throw new UsageException($"{option} {path}: the folder {folder} does not exist");
    }
}

/// <summary>A bad command line (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The command stopped on Ctrl-C where it could stop cleanly; the message says what is left (exit code 130).</summary>
internal sealed class InterruptedException(string message) : Exception(message);

/// <summary>SIGINT (Ctrl-C) and SIGTERM cancel <see cref="Token"/> once; a second signal ends the process at once.</summary>
internal sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource cts = new();
    private readonly PosixSignalRegistration sigint, sigterm;

    public Interrupt()
    {
        sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
    }

    public CancellationToken Token => cts.Token;

    private void Handle(PosixSignalContext context)
    {
        if (cts.IsCancellationRequested) return;   // the second one: the default action ends the process
        context.Cancel = true;
        ProgressLine.Print("torchbert: stopping at the next safe point (Ctrl-C again to quit at once)...");
        cts.Cancel();
    }

    public void Dispose()
    {
        sigint.Dispose();
        sigterm.Dispose();
        cts.Dispose();
    }
}
