using System.Runtime.CompilerServices;
using TorchBert.Hub;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Hub;

/// <summary>
/// The whole test process runs with the Hub off and a private HF_HOME, so no test (nor a CLI run it spawns) can reach
/// huggingface.co or touch the user's cache. Hub tests pass their own <see cref="HubOptions"/> explicitly.
/// </summary>
internal static class HubIsolation
{
#pragma warning disable CA2255 // a module initializer in a test assembly: runs before any test
    [ModuleInitializer]
    internal static void Init()
    {
        var home = ProcessTempFolders.Create("torchbert-tests-hfhome");
        Environment.SetEnvironmentVariable("HF_HOME", home);
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", null);
        Environment.SetEnvironmentVariable("HUGGINGFACE_HUB_CACHE", null);
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        Environment.SetEnvironmentVariable("HF_ENDPOINT", "http://127.0.0.1:9");   // discard port: nothing listens
        Environment.SetEnvironmentVariable("HF_TOKEN", null);
        Environment.SetEnvironmentVariable("HUGGING_FACE_HUB_TOKEN", null);
        // The embedded model, if some test resolves it without a folder of its own, is imported here, not into ~/.cache.
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TORCHBERT_WEIGHTS")))
            Environment.SetEnvironmentVariable("TORCHBERT_WEIGHTS", Path.Combine(home, "torchbert-weights"));
    }
#pragma warning restore CA2255
}

/// <summary>A fake Hub with the tiny MLM fixture as <c>org/tiny</c> (safetensors and .bin as LFS), and a temporary cache.</summary>
public sealed class HubSandbox : IDisposable
{
    public const string Token = "hf_TestSecretToken123";

    public HubSandbox()
    {
        Root = Path.Combine(Path.GetTempPath(), $"torchbert-hub-{Guid.NewGuid():N}");
        Cache = Path.Combine(Root, "hub");
        Directory.CreateDirectory(Cache);
        Tiny = Hub.AddRepo("org/tiny", TinyFiles(), "model.safetensors", "pytorch_model.bin");
        Commit = Tiny.Refs["main"];
    }

    public FakeHub Hub { get; } = new();
    public string Root { get; }
    public string Cache { get; }
    public FakeRepo Tiny { get; }
    public string Commit { get; }

    public static Dictionary<string, byte[]> TinyFiles()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        return new[] { "config.json", "vocab.txt", "model.safetensors", "pytorch_model.bin" }
            .ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(dir, f)));
    }

    /// <summary>Options against the fake Hub: small timeouts and retry delays so failure tests stay fast.</summary>
    public HubOptions Options(string? token = Token, bool offline = false, Uri? endpoint = null) => new()
    {
        Endpoint = (endpoint ?? Hub.Endpoint).ToString().TrimEnd('/'),
        CacheDir = Cache,
        Token = token,
        Offline = offline,
        EtagTimeout = TimeSpan.FromSeconds(5),
        DownloadTimeout = TimeSpan.FromSeconds(5),
        RetryDelay = TimeSpan.FromMilliseconds(5),
        MaxRetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetries = 3,
    };

    private readonly List<HubClient> clients = [];

    /// <summary>A model locator whose Hub client works against the fake Hub with <see cref="Options"/> (disposed with the sandbox).</summary>
    public TorchBert.Loading.ModelLocator Locator(bool offline = false)
    {
        var client = new HubClient(Options(offline: offline));
        lock (clients) clients.Add(client);
        return new TorchBert.Loading.ModelLocator(client);
    }

    public string RepoDir(string id) => Path.Combine(Cache, HubNames.RepoFolderName(id));

    /// <summary>An endpoint where nothing listens (a port taken and released).</summary>
    public static Uri DeadEndpoint()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return new Uri($"http://127.0.0.1:{port}");
    }

    /// <summary>Every file and link under a folder, relative, sorted ('/' separators).</summary>
    public static List<string> Tree(string dir) =>
        Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories)
            .Where(p => !Directory.Exists(p) || new DirectoryInfo(p).LinkTarget is not null)
            .Select(p => Path.GetRelativePath(dir, p).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();

    public void Dispose()
    {
        foreach (var c in clients) c.Dispose();
        Hub.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// huggingface_hub's <c>scan_cache_dir</c> / <c>_scan_cached_repo</c> checks (utils/_cache_manager.py), re-implemented:
/// every CorruptedCacheException it would raise becomes a string; plus the layout rules its writers follow (relative
/// links into blobs/, refs of exactly 40 hex digits without newline).
/// </summary>
public static class ScanCacheDir
{
    public static List<string> Problems(string cacheDir)
    {
        var problems = new List<string>();
        foreach (var repo in Directory.EnumerateFileSystemEntries(cacheDir))
        {
            var name = Path.GetFileName(repo);
            if (name is ".locks" or "CACHEDIR.TAG" or ".DS_Store") continue;
            if (!Directory.Exists(repo)) { problems.Add($"Repo path is not a directory: {repo}"); continue; }
            if (!name.Contains("--")) { problems.Add($"Repo path is not a valid HuggingFace cache directory: {repo}"); continue; }
            var type = name[..name.IndexOf("--", StringComparison.Ordinal)][..^1];
            if (type is not ("dataset" or "model" or "space")) { problems.Add($"Repo type must be `dataset`, `model` or `space`, found `{type}`"); continue; }
            var snapshots = Path.Combine(repo, "snapshots");
            var refs = Path.Combine(repo, "refs");
            if (!Directory.Exists(snapshots)) { problems.Add($"Snapshots dir doesn't exist in cached repo: {snapshots}"); continue; }
            var refsByHash = new Dictionary<string, List<string>>();
            if (File.Exists(refs)) { problems.Add($"Refs directory cannot be a file: {refs}"); continue; }
            if (Directory.Exists(refs))
                foreach (var r in Directory.EnumerateFiles(refs, "*", SearchOption.AllDirectories))
                {
                    var hash = File.ReadAllText(r);   // read unstripped, as Python's f.read()
                    if (!HubNames.IsCommitHash(hash)) problems.Add($"ref {r} is not exactly a 40-hex commit (got '{hash}')");
                    refsByHash.TryAdd(hash, []);
                    refsByHash[hash].Add(Path.GetRelativePath(refs, r));
                }
            foreach (var revision in Directory.EnumerateFileSystemEntries(snapshots))
            {
                if (File.Exists(revision) && new FileInfo(revision).LinkTarget is null) { problems.Add($"Snapshots folder corrupted. Found a file: {revision}"); continue; }
                foreach (var file in Directory.EnumerateFiles(revision, "*", SearchOption.AllDirectories)
                             .Concat(Directory.EnumerateFileSystemEntries(revision, "*", SearchOption.AllDirectories).Where(p => new FileInfo(p).LinkTarget is not null))
                             .Distinct())
                {
                    string blob;
                    var info = new FileInfo(file);
                    if (info.LinkTarget is { } target)
                    {
                        if (Path.IsPathRooted(target)) problems.Add($"link {file} is absolute ({target}); huggingface_hub writes relative links");
                        var firstHop = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, target));
                        blob = Path.GetDirectoryName(firstHop) == Path.Combine(repo, "blobs") ? firstHop : info.ResolveLinkTarget(true)?.FullName ?? firstHop;
                        if (Path.GetDirectoryName(firstHop) != Path.Combine(repo, "blobs")) problems.Add($"link {file} does not point into blobs/ ({target})");
                    }
                    else blob = file;
                    if (!File.Exists(blob)) problems.Add($"Blob missing (broken symlink): {blob}");
                }
                refsByHash.Remove(Path.GetFileName(revision));
            }
            if (refsByHash.Count > 0) problems.Add($"Reference(s) refer to missing commit hashes: {string.Join(", ", refsByHash.Keys)} ({repo})");
        }
        return problems;
    }
}
