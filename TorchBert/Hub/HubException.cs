namespace TorchBert.Hub;

/// <summary>What went wrong talking to the Hub or its cache.</summary>
public enum HubErrorKind
{
    RepoNotFound,
    GatedRepo,
    RevisionNotFound,
    EntryNotFound,
    /// <summary>Offline (or the Hub unreachable) and the file is not in the cache.</summary>
    NotCached,
    /// <summary>The Hub could not be reached or answered a transient error.</summary>
    Network,
    /// <summary>Invalid token, disabled repo, or another HTTP error.</summary>
    Http,
    /// <summary>The bytes do not match the size or sha256 the Hub announced.</summary>
    Integrity,
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
    public HubException(HubErrorKind kind, string repoId, string message, Exception? inner = null, bool transient = false,
        string? commit = null, int? status = null)
        : base(message, inner)
    {
        Kind = kind; RepoId = repoId; IsTransient = transient; Commit = commit; StatusCode = status;
    }

    public HubErrorKind Kind { get; }
    public string RepoId { get; }
    /// <summary>Worth retrying (timeouts, connection errors, 408/429/5xx, a broken body).</summary>
    public bool IsTransient { get; }
    /// <summary>X-Repo-Commit of an EntryNotFound answer.</summary>
    public string? Commit { get; }
    public int? StatusCode { get; }
}
