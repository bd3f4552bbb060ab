using System.Text.RegularExpressions;

namespace TorchBert.Hub;

/// <summary>Validation of repo ids, revisions, file names and etags before any of them becomes a URL or a path.</summary>
public static partial class HubNames
{
    // huggingface_hub utils/_validators.py validate_repo_id: [\w\-.]+ optionally prefixed by one "namespace/".
    [GeneratedRegex(@"^([A-Za-z0-9_\-.]+/)?[A-Za-z0-9_\-.]+$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_\-.]{1,128}$")]
    private static partial Regex EtagPattern();

    /// <summary>A full 40-hex lowercase commit hash.</summary>
    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    /// <summary>Whether <paramref name="s"/> has the shape of a Hub repo id (<c>name</c> or <c>org/name</c>), as huggingface_hub checks it.</summary>
    public static bool IsRepoId(string s) =>
        s.Length is > 0 and <= 96 && RepoIdPattern().IsMatch(s) && !s.Contains("--", StringComparison.Ordinal)
        && !s.Contains("..", StringComparison.Ordinal) && !s.StartsWith('-') && !s.StartsWith('.') && !s.EndsWith(".git", StringComparison.Ordinal)
        && s.Split('/').All(p => p.Length > 0 && !p.StartsWith('.') && !p.StartsWith('-') && !p.EndsWith('.') && !p.EndsWith('-'));

    /// <summary>Throws a <see cref="HubException"/> (Invalid) unless <paramref name="repoId"/> is a valid <c>name</c> or <c>owner/name</c>.</summary>
    public static void CheckRepoId(string repoId)
    {
        if (!IsRepoId(repoId))
            throw new HubException(HubErrorKind.Invalid, repoId,
                $"'{repoId}' is not a valid Hub repo id (expected 'name' or 'org/name': letters, digits, '-', '_', '.'; no '--' or '..', at most 96 characters)");
    }

    /// <summary>A branch, tag, commit or <c>refs/pr/N</c>: relative, no <c>..</c>, no empty segment.</summary>
    public static void CheckRevision(string repoId, string revision)
    {
        if (revision.Length is 0 or > 256 || revision.Contains('\\') || revision.Contains('\0') || revision.StartsWith('/')
            || revision.Split('/').Any(s => s is "" or "." or ".."))
            throw new HubException(HubErrorKind.Invalid, repoId, $"{repoId}: revision '{revision}' is not a valid branch, tag or commit name");
    }

    /// <summary>A file name in a repo (also from the server): relative, '/'-separated, no <c>..</c>, no drive or UNC, no backslash.</summary>
    public static void CheckFileName(string repoId, string fileName)
    {
        if (fileName.Length is 0 or > 1024 || fileName.Contains('\\') || fileName.Contains('\0') || fileName.StartsWith('/')
            || (fileName.Length >= 2 && fileName[1] == ':') || fileName.Split('/').Any(s => s is "" or "." or ".."))
            throw new HubException(HubErrorKind.Invalid, repoId,
                $"{repoId}: file name '{fileName}' is not a safe relative path (no '..', no absolute or drive paths); refusing to write it");
    }

    /// <summary>A blob name from ETag / X-Linked-Etag: a hash, nothing that could be a path.</summary>
    public static void CheckEtag(string repoId, string fileName, string etag)
    {
        if (!EtagPattern().IsMatch(etag) || etag.Contains("..", StringComparison.Ordinal))
            throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: the Hub answered an invalid ETag for {fileName}; refusing to cache it");
    }

    /// <summary>huggingface_hub's <c>repo_folder_name</c>: <c>models--org--name</c>.</summary>
    public static string RepoFolderName(string repoId, string repoType = "model") => $"{repoType}s--{repoId.Replace("/", "--", StringComparison.Ordinal)}";
}
