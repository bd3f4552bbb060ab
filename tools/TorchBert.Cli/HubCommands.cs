using System.CommandLine;
using System.Diagnostics;
using TorchBert.Hub;

namespace TorchBert.Cli;

/// <summary><c>torchbert download</c> and <c>torchbert cache list|rm</c> on huggingface_hub's cache.</summary>
internal static class HubCommands
{
    public static IEnumerable<Command> All() => [Download(), Cache()];

    /// <summary>--revision beside --model: branch, tag or commit of a Hub id.</summary>
    public static Option<string?> RevisionOption() => CommonOptions.Revision();

    private static Command Download()
    {
        var id = new Argument<string>("id") { Description = "Hub repo id (name or org/name)" };
        var revision = RevisionOption();
        var include = new Option<string[]>("--include") { Description = "only files matching these patterns (fnmatch, e.g. '*.json' 'onnx/*'); default: what from_pretrained loads", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("download", "download a model into the Hugging Face cache (shared with Python) and print its snapshot folder") { id, revision, include };
        // Ctrl-C cancels the transfer: the file being fetched is dropped (never a partial blob), files already complete
        // and every earlier snapshot stay; exit code 130.
        cmd.SetAction((p, _) => Cli.RunAsync(async ct =>
        {
            using var client = new HubClient();
            var folder = await client.SnapshotDownloadAsync(p.GetValue(id)!, p.GetValue(revision), p.GetValue(include), ct);
            Console.WriteLine(folder);
            return 0;
        }));
        return cmd;
    }

    private static Command Cache()
    {
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var verbose = new Option<bool>("--verbose") { Description = "one row per revision" };
        var list = new Command("list", "the cached repos, as huggingface-cli scan-cache") { json, verbose };
        list.SetAction((p, _) => Cli.Run(() =>
        {
            var cache = new HubCache(HubOptions.FromEnvironment().CacheDir);
            var repos = cache.Scan();
            if (p.GetValue(json))
            {
                Cli.WriteJson(repos.Select(r => new
                {
                    repo_id = r.RepoId, repo_type = r.RepoType, size_on_disk = r.SizeOnDisk, nb_files = r.FileCount,
                    last_modified = r.LastModified, refs = r.Refs.ToList(), local_path = r.RepoPath,
                    revisions = r.Revisions.Select(v => new { commit_hash = v.Commit, refs = v.Refs, files = v.Files, size_on_disk = v.SizeOnDisk, snapshot_path = v.SnapshotPath }),
                }).ToList());
                return 0;
            }
            Console.WriteLine($"{"REPO ID",-40} {"TYPE",-7} {(p.GetValue(verbose) ? $"{"REVISION",-40} " : "")}{"SIZE",10} {"FILES",5} {"REFS",-12} LOCAL PATH");
            foreach (var r in repos)
            {
                if (p.GetValue(verbose))
                    foreach (var v in r.Revisions)
                        Console.WriteLine($"{r.RepoId,-40} {r.RepoType,-7} {v.Commit,-40} {Size(v.SizeOnDisk),10} {v.Files.Count,5} {string.Join(", ", v.Refs),-12} {v.SnapshotPath}");
                else
                    Console.WriteLine($"{r.RepoId,-40} {r.RepoType,-7} {Size(r.SizeOnDisk),10} {r.FileCount,5} {string.Join(", ", r.Refs),-12} {r.RepoPath}");
            }
            Console.WriteLine($"{repos.Count} repo(s), {Size(repos.Sum(r => r.SizeOnDisk))} in {cache.Root}");
            return 0;
        }));

        var id = new Argument<string>("id") { Description = "Hub repo id to delete from the cache" };
        var rm = new Command("rm", "delete a cached repo (blobs, snapshots, refs), as huggingface-cli delete-cache") { id };
        rm.SetAction((p, _) => Cli.Run(() =>
        {
            var cache = new HubCache(HubOptions.FromEnvironment().CacheDir);
            var repoId = p.GetValue(id)!;
            var size = cache.Scan().FirstOrDefault(r => r.RepoId == repoId)?.SizeOnDisk ?? 0;
            if (!cache.Delete(repoId)) throw new UsageException($"{repoId} is not in the cache {cache.Root} (see 'torchbert cache list')");
            Console.WriteLine($"deleted {repoId} ({Size(size)}) from {cache.Root}");
            return 0;
        }));
        return new Command("cache", "list or delete models in the Hugging Face cache") { list, rm };
    }

    /// <summary>huggingface_hub's <c>_format_size</c>: 1000-based, one decimal.</summary>
    internal static string Size(long bytes)
    {
        double n = bytes;
        foreach (var unit in new[] { "", "K", "M", "G", "T", "P" })
        {
            if (Math.Abs(n) < 1000.0) return $"{n:0.0}{unit}";
            n /= 1000.0;
        }
        return $"{n:0.0}E";
    }
}

/// <summary>A one-line download progress bar on stderr, for files that take more than half a second.</summary>
internal sealed class ProgressBar
{
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private string? file;
    private TimeSpan started, drawn;
    private bool shown;

    private static int Width()
    {
        try { return Math.Clamp(Console.WindowWidth - 1, 40, 120); }
        catch (IOException) { return 100; }
        catch (PlatformNotSupportedException) { return 100; }
    }

    public void Report(DownloadProgress p)
    {
        lock (this)
        {
            if (p.FileName != file) { file = p.FileName; started = clock.Elapsed; shown = false; }
            var now = clock.Elapsed;
            var finished = p.Done >= p.Total;
            if (now - started < TimeSpan.FromSeconds(0.5) && !shown) return;
            if (!finished && now - drawn < TimeSpan.FromMilliseconds(100)) return;
            drawn = now;
            shown = true;
            var fraction = p.Total > 0 ? (double)p.Done / p.Total : 1;
            var rate = p.Done / Math.Max(1e-3, (now - started).TotalSeconds);
            var line = $"{p.FileName}: [{new string('#', (int)(fraction * 30)),-30}] {fraction,4:P0} {HubCommands.Size(p.Done)}/{HubCommands.Size(p.Total)}B {HubCommands.Size((long)rate)}B/s";
            if (Console.IsErrorRedirected) { if (finished) ProgressLine.Print(line); return; }
            ProgressLine.Draw(line.PadRight(Width()));
            if (finished) ProgressLine.End();
        }
    }
}
