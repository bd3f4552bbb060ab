namespace TorchBert.Hub;

/// <summary>What went wrong talking to the Hub or its cache.</summary>
public enum HubErrorKind
{
    /// <summary>The repo does not exist (or is private and no token grants access).</summary>
    RepoNotFound,
    /// <summary>The repo is gated: accept its conditions on the Hub and use a token.</summary>
    GatedRepo,
    /// <summary>The branch, tag or commit does not exist.</summary>
    RevisionNotFound,
    /// <summary>The file does not exist at that revision.</summary>
    EntryNotFound,
    /// <summary>Offline (or the Hub unreachable) and the file is not in the cache.</summary>
    NotCached,
    /// <summary>The Hub could not be reached or answered a transient error.</summary>
    Network,
    /// <summary>Invalid token, disabled repo, or another HTTP error.</summary>
    Http,
    /// <summary>The bytes do not match the size or sha256 the Hub announced.</summary>
    Integrity,
    /// <summary>The disk is full (or the quota exhausted) while writing the cache.</summary>
    DiskFull,
    /// <summary>A repo id, revision or file name that is not valid (or would leave the cache).</summary>
    Invalid,
}

/// <summary>
/// A one-line Hub error naming the repo and the fix (a <see cref="TorchBertException"/>, as every error TorchBert reports).
/// Messages never contain the token.
/// </summary>
public sealed class HubException : TorchBertException
{
    /// <summary>An error of <paramref name="kind"/> about <paramref name="repoId"/>.</summary>
    public HubException(HubErrorKind kind, string repoId, string message, Exception? inner = null, bool transient = false,
        string? commit = null, int? status = null)
        : base(message, inner)
    {
        Kind = kind; RepoId = repoId; IsTransient = transient; Commit = commit; StatusCode = status;
    }

    /// <summary>What went wrong.</summary>
    public HubErrorKind Kind { get; }
    /// <summary>The repo concerned.</summary>
    public string RepoId { get; }
    /// <summary>Worth retrying (timeouts, connection errors, 408/429/5xx, a broken body).</summary>
    public bool IsTransient { get; }
    /// <summary>X-Repo-Commit of an EntryNotFound answer.</summary>
    public string? Commit { get; }
    /// <summary>The HTTP status, when the Hub answered.</summary>
    public int? StatusCode { get; }
}
