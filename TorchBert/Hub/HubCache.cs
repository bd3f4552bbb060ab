namespace TorchBert.Hub;

/// <summary>One revision of a cached repo (a folder under <c>snapshots/</c>).</summary>
public sealed record CachedRevision(string Commit, string SnapshotPath, IReadOnlyList<string> Files, IReadOnlyList<string> Refs, long SizeOnDisk);

/// <summary>One cached repo, as huggingface_hub's <c>scan_cache_dir</c> reports it.</summary>
public sealed record CachedRepo(string RepoId, string RepoType, string RepoPath, long SizeOnDisk, int FileCount,
    IReadOnlyList<CachedRevision> Revisions, DateTime LastModified)
{
    /// <summary>Every ref (branch or tag) that points at this revision.</summary>
    public IEnumerable<string> Refs => Revisions.SelectMany(r => r.Refs).Order(StringComparer.Ordinal);
}

/// <summary>
/// huggingface_hub's cache layout (<c>file_download.py</c>): <c>{cache}/models--org--name/blobs/{etag}</c>,
/// <c>snapshots/{commit}/{file}</c> (relative symlinks to the blobs, copies where links are impossible),
/// <c>refs/{revision}</c> (the commit, no newline), <c>.no_exist/{commit}/{file}</c> (known missing), and
/// <c>{cache}/.locks/models--org--name/{etag}.lock</c>.
/// </summary>
public sealed class HubCache(string root)
{
    /// <summary>The cache folder (absolute).</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The repo's folder (<c>models--owner--name</c>).</summary>
    public string RepoFolder(string repoId) => Path.Combine(Root, HubNames.RepoFolderName(repoId));
    /// <summary>Where a file's content is stored, by its etag.</summary>
    public string BlobPath(string repoId, string etag) => Path.Combine(RepoFolder(repoId), "blobs", etag);
    /// <summary>The snapshot folder of a commit.</summary>
    public string SnapshotFolder(string repoId, string commit) => Path.Combine(RepoFolder(repoId), "snapshots", commit);
    /// <summary>The snapshot entry (a link to the blob) of a file at a commit; never outside the repo folder.</summary>
    public string PointerPath(string repoId, string commit, string fileName) => Inside(repoId, Path.Combine(SnapshotFolder(repoId, commit), fileName));
    /// <summary>The marker recording that a file does not exist at a commit.</summary>
    public string NoExistPath(string repoId, string commit, string fileName) => Inside(repoId, Path.Combine(RepoFolder(repoId), ".no_exist", commit, fileName));
    /// <summary>The file holding the commit a branch or tag points to.</summary>
    public string RefPath(string repoId, string revision) => Inside(repoId, Path.Combine(RepoFolder(repoId), "refs", revision));
    /// <summary>The lock file guarding one blob's download.</summary>
    public string LockPath(string repoId, string etag) => Path.Combine(Root, ".locks", HubNames.RepoFolderName(repoId), etag + ".lock");

    /// <summary>Belt and braces after <see cref="HubNames"/>: a path must stay inside the repo's folder.</summary>
    private string Inside(string repoId, string path)
    {
        var full = Path.GetFullPath(path);
        var folder = RepoFolder(repoId) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(folder, StringComparison.Ordinal))
            throw new HubException(HubErrorKind.Invalid, repoId, $"{repoId}: '{path}' would be outside the cache folder {folder}; refusing");
        return full;
    }

    /// <summary>The commit a revision points to: the revision itself when it is a full hash, else <c>refs/{revision}</c>.</summary>
    public string? CommitOf(string repoId, string revision)
    {
        if (HubNames.IsCommitHash(revision)) return revision;
        var path = RefPath(repoId, revision);
        try { return File.Exists(path) ? File.ReadAllText(path).Trim() : null; }
        catch (IOException) { return null; }
    }

    /// <summary>Writes <c>refs/{revision}</c> = commit (no newline), atomically, when it changes.</summary>
    public void WriteRef(string repoId, string revision, string commit)
    {
        if (revision == commit) return;
        var path = RefPath(repoId, revision);
        if (File.Exists(path) && File.ReadAllText(path) == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, commit);
    }

    /// <summary>The snapshot file when it is there (a link whose blob exists, or a copied file).</summary>
    public string? CachedFile(string repoId, string commit, string fileName)
    {
        var pointer = PointerPath(repoId, commit, fileName);
        return File.Exists(pointer) ? pointer : null;   // File.Exists follows links: a broken link is not cached
    }

    /// <summary>True when the cache records that the file does not exist at this commit.</summary>
    public bool IsKnownMissing(string repoId, string commit, string fileName) => File.Exists(NoExistPath(repoId, commit, fileName));

    /// <summary>
    /// Touches <c>.no_exist/{commit}/{file}</c>. Several clients (threads or processes) may mark the same file at once:
    /// the touch opens it shared, and a marker another client holds open already says what this one would.
    /// </summary>
    public void MarkMissing(string repoId, string commit, string fileName)
    {
        var path = NoExistPath(repoId, commit, fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1)) { }
        }
        catch (IOException) when (File.Exists(path)) { } // held open (locked) by another client marking it too
    }

    /// <summary>
    /// Makes <c>snapshots/{commit}/{file}</c> point at <c>blobs/{etag}</c>: a relative symlink (as <c>_create_symlink</c>:
    /// <c>os.path.relpath(blob, dirname(pointer))</c>), else a copy.
    /// </summary>
    public string Link(string repoId, string etag, string commit, string fileName, bool copy = false)
    {
        var blob = BlobPath(repoId, etag);
        var pointer = PointerPath(repoId, commit, fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        if (File.Exists(pointer)) return pointer;
        if (new FileInfo(pointer).LinkTarget is not null) File.Delete(pointer);   // a broken link
        if (!copy)
        {
            try
            {
                File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
                return pointer;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                if (File.Exists(pointer)) return pointer;   // another process linked it first
            }
        }
        AtomicFile.Copy(blob, pointer);
        return pointer;
    }

    /// <summary>Every cached repo (folders that are not repos are skipped, as <c>scan_cache_dir</c> reports them as warnings).</summary>
    public IReadOnlyList<CachedRepo> Scan()
    {
        if (!Directory.Exists(Root)) return [];
        var repos = new List<CachedRepo>();
        foreach (var dir in Directory.EnumerateDirectories(Root).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            var sep = name.IndexOf("--", StringComparison.Ordinal);
            if (name.StartsWith('.') || sep < 0) continue;
            var type = name[..sep].TrimEnd('s');
            if (type is not ("model" or "dataset" or "space")) continue;
            var snapshots = Path.Combine(dir, "snapshots");
            if (!Directory.Exists(snapshots)) continue;
            var refs = new Dictionary<string, List<string>>();
            var refsDir = Path.Combine(dir, "refs");
            if (Directory.Exists(refsDir))
                foreach (var f in Directory.EnumerateFiles(refsDir, "*", SearchOption.AllDirectories))
                {
                    var commit = File.ReadAllText(f);
                    if (!refs.TryGetValue(commit, out var list)) refs[commit] = list = [];
                    list.Add(Path.GetRelativePath(refsDir, f).Replace('\\', '/'));
                }
            var blobs = new Dictionary<string, FileInfo>();
            var revisions = new List<CachedRevision>();
            foreach (var rev in Directory.EnumerateDirectories(snapshots).Order(StringComparer.Ordinal))
            {
                var files = new List<string>();
                var revBlobs = new HashSet<string>();
                foreach (var f in Directory.EnumerateFiles(rev, "*", SearchOption.AllDirectories))
                {
                    var target = new FileInfo(f).ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? new FileInfo(f);
                    if (!target.Exists) continue;
                    blobs[target.FullName] = target;
                    revBlobs.Add(target.FullName);
                    files.Add(Path.GetRelativePath(rev, f).Replace('\\', '/'));
                }
                var commitName = Path.GetFileName(rev);
                revisions.Add(new CachedRevision(commitName, rev, files.Order(StringComparer.Ordinal).ToList(),
                    refs.GetValueOrDefault(commitName)?.Order(StringComparer.Ordinal).ToList() ?? [], revBlobs.Sum(b => blobs[b].Length)));
            }
            repos.Add(new CachedRepo(name[(sep + 2)..].Replace("--", "/", StringComparison.Ordinal), type, dir,
                blobs.Values.Sum(b => b.Length), blobs.Count, revisions,
                blobs.Count > 0 ? blobs.Values.Max(b => b.LastWriteTimeUtc) : Directory.GetLastWriteTimeUtc(dir)));
        }
        return repos;
    }

    /// <summary>Deletes a cached repo (its folder and its locks), as <c>delete-cache</c> does; false when not cached.</summary>
    public bool Delete(string repoId)
    {
        HubNames.CheckRepoId(repoId);
        var folder = RepoFolder(repoId);
        if (!Directory.Exists(folder)) return false;
        Directory.Delete(folder, recursive: true);
        var locks = Path.Combine(Root, ".locks", HubNames.RepoFolderName(repoId));
        if (Directory.Exists(locks)) Directory.Delete(locks, recursive: true);
        return true;
    }
}
