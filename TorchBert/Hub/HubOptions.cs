using System.Text.RegularExpressions;

namespace TorchBert.Hub;

/// <summary>Progress of one file download (bytes written so far out of the expected size).</summary>
public sealed record DownloadProgress(string RepoId, string FileName, long Done, long Total);

/// <summary>
/// Where and how the Hub client works. <see cref="FromEnvironment()"/> reads the variables huggingface_hub reads
/// (<c>constants.py</c>): <c>HF_ENDPOINT</c>, <c>HF_HOME</c>, <c>HF_HUB_CACHE</c> / <c>HUGGINGFACE_HUB_CACHE</c>,
/// <c>HF_HUB_OFFLINE</c> / <c>TRANSFORMERS_OFFLINE</c>, <c>HF_TOKEN</c> / <c>HUGGING_FACE_HUB_TOKEN</c> /
/// <c>HF_TOKEN_PATH</c> (default <c>{HF_HOME}/token</c>), <c>HF_HUB_DISABLE_IMPLICIT_TOKEN</c>,
/// <c>HF_HUB_ETAG_TIMEOUT</c>, <c>HF_HUB_DOWNLOAD_TIMEOUT</c>, <c>HF_HUB_DISABLE_SYMLINKS</c>.
/// </summary>
public sealed record HubOptions
{
    /// <summary>The public Hugging Face Hub.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The Hub's base URL, no trailing slash.</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;
    /// <summary>The hub cache folder (huggingface_hub's <c>HF_HUB_CACHE</c>).</summary>
    public string CacheDir { get; init; } = DefaultCacheDir();
    /// <summary>Bearer token sent to the Hub host (never to another host, never printed).</summary>
    public string? Token { get; init; }
    /// <summary>No request at all; everything comes from the cache.</summary>
    public bool Offline { get; init; }
    /// <summary>Timeout of a metadata (HEAD) request.</summary>
    public TimeSpan EtagTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Timeout of each read of a download (GET).</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Copy blobs into snapshots/ instead of linking them.</summary>
    public bool DisableSymlinks { get; init; }
    /// <summary>Retries after a transient failure (timeouts, connection errors, 408/429/5xx, a broken body).</summary>
    public int MaxRetries { get; init; } = 4;
    /// <summary>First retry delay; doubles each time (with jitter), at most <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Upper bound of one retry's backoff delay.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(8);
    /// <summary>Called while a file downloads.</summary>
    public Action<DownloadProgress>? Progress { get; init; }
    /// <summary>Test hook: opens the temporary blob file for writing.</summary>
    internal Func<string, Stream>? OpenTempFile { get; init; }

    /// <summary>Options from the environment variables, exactly as huggingface_hub reads them.</summary>
    public static HubOptions FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>The same from any variable source (tests).</summary>
    internal static HubOptions FromEnvironment(Func<string, string?> getenv)
    {
        string? Env(string name) => getenv(name) is { Length: > 0 } v ? v : null;
        var home = HfHome(getenv);
        var token = Truthy(Env("HF_HUB_DISABLE_IMPLICIT_TOKEN")) ? null : TokenFromEnvironment(getenv, home);
        return new HubOptions
        {
            Endpoint = (Env("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            CacheDir = DefaultCacheDir(getenv),
            Token = token,
            // Python: _is_true(os.getenv("HF_HUB_OFFLINE") or os.getenv("TRANSFORMERS_OFFLINE")).
            Offline = Truthy(Env("HF_HUB_OFFLINE") ?? Env("TRANSFORMERS_OFFLINE")),
            EtagTimeout = Seconds(Env("HF_HUB_ETAG_TIMEOUT")),
            DownloadTimeout = Seconds(Env("HF_HUB_DOWNLOAD_TIMEOUT")),
            DisableSymlinks = Truthy(Env("HF_HUB_DISABLE_SYMLINKS")),
        };
    }

    /// <summary><c>HF_HOME</c>, default <c>{XDG_CACHE_HOME or ~/.cache}/huggingface</c>; <c>~</c> and <c>$VARS</c> expanded.</summary>
    public static string HfHome() => HfHome(Environment.GetEnvironmentVariable);

    internal static string HfHome(Func<string, string?> getenv) =>
        Expand(NonEmpty(getenv("HF_HOME")) ?? Path.Combine(NonEmpty(getenv("XDG_CACHE_HOME")) ?? "~/.cache", "huggingface"));

    /// <summary><c>HF_HUB_CACHE</c>, else <c>HUGGINGFACE_HUB_CACHE</c>, else <c>{HF_HOME}/hub</c>.</summary>
    public static string DefaultCacheDir() => DefaultCacheDir(Environment.GetEnvironmentVariable);

    internal static string DefaultCacheDir(Func<string, string?> getenv) =>
        Expand(NonEmpty(getenv("HF_HUB_CACHE")) ?? NonEmpty(getenv("HUGGINGFACE_HUB_CACHE")) ?? Path.Combine(HfHome(getenv), "hub"));

    /// <summary><c>HF_TOKEN</c>, else <c>HUGGING_FACE_HUB_TOKEN</c>, else the file <c>HF_TOKEN_PATH</c> (default <c>{HF_HOME}/token</c>); whitespace stripped.</summary>
    public static string? TokenFromEnvironment() => TokenFromEnvironment(Environment.GetEnvironmentVariable, HfHome());

    internal static string? TokenFromEnvironment(Func<string, string?> getenv, string hfHome)
    {
        if (Clean(NonEmpty(getenv("HF_TOKEN")) ?? NonEmpty(getenv("HUGGING_FACE_HUB_TOKEN"))) is { } t) return t;
        var path = Expand(NonEmpty(getenv("HF_TOKEN_PATH")) ?? Path.Combine(hfHome, "token"));
        try { return File.Exists(path) ? Clean(File.ReadAllText(path)) : null; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string? Clean(string? token) => string.IsNullOrWhiteSpace(token) ? null : token.Replace("\r", "").Replace("\n", "").Trim();

    private static string? NonEmpty(string? v) => v is { Length: > 0 } ? v : null;

    private static bool Truthy(string? v) => v is not null && v.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static TimeSpan Seconds(string? v) =>
        v is not null && double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
            ? TimeSpan.FromSeconds(s) : TimeSpan.FromSeconds(10);

    /// <summary>Python's <c>os.path.expanduser(os.path.expandvars(p))</c>.</summary>
    internal static string Expand(string path)
    {
        path = Regex.Replace(path, @"\$(\w+)|\$\{(\w+)\}", m =>
            Environment.GetEnvironmentVariable(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value) ?? m.Value);
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
            path = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..];
        return path;
    }
}
