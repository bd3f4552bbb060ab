using System.Text.Json;
using System.Text.RegularExpressions;
using TorchBert.Checkpoints;
using TorchBert.Tokenization;

namespace TorchBert.Hub;

/// <summary>Which files of a model repo to fetch.</summary>
public sealed record ModelFileSelection
{
    /// <summary>Only the tokenizer files (and config.json), no weights.</summary>
    public bool TokenizerOnly { get; init; }
    /// <summary>The ONNX export (<c>model.onnx</c>) instead of the PyTorch weights.</summary>
    public bool Onnx { get; init; }
    /// <summary>More files fetched when the repo has them (relative paths, e.g. sentence-transformers' <c>modules.json</c>).</summary>
    public IReadOnlyList<string> OptionalFiles { get; init; } = [];
    /// <summary>
    /// Called with the snapshot folder once <see cref="OptionalFiles"/> are there; the files it names are fetched too
    /// when the repo has them (e.g. the module folders' <c>config.json</c> that <c>modules.json</c> names).
    /// </summary>
    public Func<string, IEnumerable<string>>? FollowUpFiles { get; init; }
}

/// <summary>
/// What <c>from_pretrained</c> fetches for a BERT repo: <c>config.json</c>, the tokenizer files that exist (and the
/// selection's optional files that exist), and one
/// weights format in transformers' order — <c>model.safetensors</c>, else <c>model.safetensors.index.json</c> with only
/// the shards it names, else <c>pytorch_model.bin</c> (else its index and shards) — never every format.
/// </summary>
public static class HubModelFiles
{
    /// <summary>The model configuration file.</summary>
    public const string Config = "config.json";
    /// <summary>Tokenizer files downloaded when present (<see cref="BertTokenizer.FileNames"/>).</summary>
    public static IReadOnlyList<string> TokenizerFiles => BertTokenizer.FileNames;
    /// <summary>Weight files in order of preference (<see cref="CheckpointFiles.WeightFileNames"/>); <c>Index</c> marks a sharded index.</summary>
    public static readonly IReadOnlyList<(string File, bool Index)> WeightCandidates =
        CheckpointFiles.WeightFileNames.Select(f => (f, f.EndsWith(".index.json", StringComparison.Ordinal))).ToArray();

    /// <summary>Fetches (or finds in the cache) a model's files; returns the snapshot folder <c>snapshots/{commit}</c>.</summary>
    public static async Task<string> DownloadModelAsync(this HubClient client, string repoId, string? revision = null,
        ModelFileSelection? selection = null, CancellationToken ct = default)
    {
        selection ??= new ModelFileSelection();
        revision ??= "main";
        // config.json first: its commit pins every other file to the same snapshot (and makes cached files free).
        var config = await client.ResolveFileAsync(repoId, Config, revision, optional: false, ct).ConfigureAwait(false);
        var commit = config.Commit!;
        var noNetwork = config.FromCacheOnly && !HubNames.IsCommitHash(revision);
        async Task<HubClient.Resolved> Get(string file, bool optional)
        {
            var r = await client.ResolveFileAsync(repoId, file, commit, optional, ct, noNetwork).ConfigureAwait(false);
            return r;
        }
        foreach (var file in TokenizerFiles) await Get(file, optional: true).ConfigureAwait(false);
        foreach (var file in selection.OptionalFiles)
        {
            HubNames.CheckFileName(repoId, file);
            await Get(file, optional: true).ConfigureAwait(false);
        }
        if (selection.FollowUpFiles is { } followUp)
            foreach (var file in followUp(client.Cache.SnapshotFolder(repoId, commit)).ToList())
            {
                HubNames.CheckFileName(repoId, file);
                await Get(file, optional: true).ConfigureAwait(false);
            }
        if (!selection.TokenizerOnly)
        {
            if (selection.Onnx) await Get("model.onnx", optional: false).ConfigureAwait(false);
            else
            {
                var found = false;
                foreach (var (file, index) in WeightCandidates)
                {
                    var r = await Get(file, optional: true).ConfigureAwait(false);
                    if (r.Path is null) continue;
                    if (index)
                        foreach (var shard in ShardsOf(repoId, r.Path))
                            await Get(shard, optional: false).ConfigureAwait(false);
                    found = true;
                    break;
                }
                if (!found)
                    throw new HubException(client.Options.Offline || noNetwork ? HubErrorKind.NotCached : HubErrorKind.EntryNotFound, repoId,
                        client.Options.Offline || noNetwork
                            ? $"{repoId}: no weights in the cache for commit {commit} and the Hub is {(client.Options.Offline ? "off (HF_HUB_OFFLINE)" : "unreachable")}; download them once online"
                            : $"{repoId}: no weights at revision '{revision}' (looked for {string.Join(", ", WeightCandidates.Select(w => w.File))})");
            }
        }
        return client.Cache.SnapshotFolder(repoId, commit);
    }

    /// <summary>The shard files a <c>*.index.json</c> names (<c>weight_map</c> values), each validated as a safe relative name.</summary>
    internal static IReadOnlyList<string> ShardsOf(string repoId, string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: {Path.GetFileName(indexPath)} has no weight_map object");
            var shards = map.EnumerateObject().Select(p => p.Value.GetString() ?? "").Distinct().Order(StringComparer.Ordinal).ToList();
            foreach (var s in shards) HubNames.CheckFileName(repoId, s);
            return shards;
        }
        catch (JsonException e)
        {
            throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: {Path.GetFileName(indexPath)} is not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>
    /// <c>snapshot_download</c> with <c>allow_patterns</c>: the repo's file list at the revision, filtered by fnmatch-style
    /// patterns (<c>*</c>, <c>?</c>, <c>[...]</c>); with no pattern, the model's files as <see cref="DownloadModelAsync"/>.
    /// </summary>
    public static async Task<string> SnapshotDownloadAsync(this HubClient client, string repoId, string? revision, IReadOnlyList<string>? include,
        CancellationToken ct = default)
    {
        revision ??= "main";
        if (include is not { Count: > 0 }) return await client.DownloadModelAsync(repoId, revision, null, ct).ConfigureAwait(false);
        HubNames.CheckRepoId(repoId);
        HubNames.CheckRevision(repoId, revision);
        string commit;
        IReadOnlyList<string> files;
        try
        {
            (commit, files) = await client.RepoInfoAsync(repoId, revision, ct).ConfigureAwait(false);
        }
        catch (HubException e) when (e.Kind is HubErrorKind.NotCached or HubErrorKind.Network)
        {
            // Offline or unreachable: the snapshot already in the cache, as snapshot_download does.
            var cached = client.Cache.CommitOf(repoId, revision);
            if (cached is not null && Directory.Exists(client.Cache.SnapshotFolder(repoId, cached))) return client.Cache.SnapshotFolder(repoId, cached);
            throw new HubException(HubErrorKind.NotCached, repoId, $"{e.Message}; and revision '{revision}' is not in the cache {client.Cache.Root}", e);
        }
        client.Cache.WriteRef(repoId, revision, commit);
        var patterns = include.Select(Glob).ToList();
        var selected = files.Where(f => patterns.Any(p => p.IsMatch(f))).ToList();
        if (selected.Count == 0)
            throw new HubException(HubErrorKind.EntryNotFound, repoId, $"{repoId}: no file at revision '{revision}' matches {string.Join(", ", include)}");
        foreach (var f in selected) HubNames.CheckFileName(repoId, f);
        foreach (var f in selected)
            await client.ResolveFileAsync(repoId, f, commit, optional: false, ct).ConfigureAwait(false);
        Directory.CreateDirectory(client.Cache.SnapshotFolder(repoId, commit));
        return client.Cache.SnapshotFolder(repoId, commit);
    }

    /// <summary>Python's <c>fnmatch</c> (as <c>filter_repo_objects</c> uses it): <c>*</c> also matches '/'.</summary>
    internal static Regex Glob(string pattern)
    {
        var sb = new System.Text.StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*') sb.Append(".*");
            else if (c == '?') sb.Append('.');
            else if (c == '[' && pattern.IndexOf(']', i + 1) is var end and > 0)
            {
                var set = pattern[(i + 1)..end];
                sb.Append('[').Append(set.StartsWith('!') ? "^" + Regex.Escape(set[1..]) : Regex.Escape(set)).Append(']');
                i = end;
            }
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }
}
