using System.Diagnostics;
using System.Text;
using TorchBert.Hub;

namespace TorchBert.Tests.Hub;

/// <summary>The Hub client against the in-process fake Hub: requests made, files and links written, errors.</summary>
public sealed class HubClientTests : IDisposable
{
    private readonly HubSandbox s = new();

    public void Dispose() => s.Dispose();

    private string Etag(string file) =>
        s.Tiny.Lfs.Contains(file) ? FakeHub.Sha256(s.Tiny.Commits[s.Commit][file]) : FakeHub.GitSha1(s.Tiny.Commits[s.Commit][file]);

    [Fact]
    public async Task Downloads_one_weights_format_into_the_huggingface_hub_layout()
    {
        using var client = new HubClient(s.Options());
        var folder = await client.DownloadModelAsync("org/tiny");

        var repo = s.RepoDir("org/tiny");
        folder.Should().Be(Path.Combine(repo, "snapshots", s.Commit));
        string[] files = ["config.json", "model.safetensors", "vocab.txt"];
        HubSandbox.Tree(folder).Should().Equal(files);
        foreach (var f in files)
        {
            new FileInfo(Path.Combine(folder, f)).LinkTarget.Should().Be($"../../blobs/{Etag(f)}", f);
            File.ReadAllBytes(Path.Combine(folder, f)).Should().Equal(s.Tiny.Commits[s.Commit][f]);
        }
        HubSandbox.Tree(Path.Combine(repo, "blobs")).Should().BeEquivalentTo(files.Select(Etag));
        File.ReadAllBytes(Path.Combine(repo, "refs", "main")).Should().Equal(Encoding.ASCII.GetBytes(s.Commit));   // no newline
        HubSandbox.Tree(Path.Combine(repo, ".no_exist", s.Commit)).Should().Equal(
            "added_tokens.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json");
        HubSandbox.Tree(s.Cache).Should().NotContain(p => p.EndsWith(".incomplete"));
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();

        var requests = s.Hub.Requests;
        requests.Should().NotContain(r => r.Path.Contains("pytorch_model.bin"), "one weights format only");
        requests.Where(r => r.Host == "hub").Should().OnlyContain(r => r.Authorization == $"Bearer {HubSandbox.Token}");
        requests.Where(r => r.Host == "cdn").Should().ContainSingle().Which.Should().Match<HubRequest>(r =>
            r.Method == "GET" && r.Authorization == null && r.Path.StartsWith($"/blobs/{Etag("model.safetensors")}"));
        requests.Where(r => r.Method == "GET" && r.Host == "hub").Select(r => r.Path).Should().BeEquivalentTo(
            $"/org/tiny/resolve/main/config.json", $"/org/tiny/resolve/{s.Commit}/vocab.txt");
    }

    [Fact]
    public async Task Cached_files_cost_no_get_and_a_cached_commit_costs_no_request()
    {
        using var client = new HubClient(s.Options());
        var folder = await client.DownloadModelAsync("org/tiny");
        s.Hub.ClearRequests();

        (await client.DownloadModelAsync("org/tiny")).Should().Be(folder);
        s.Hub.Requests.Should().ContainSingle().Which.Should().Be(
            new HubRequest("hub", "HEAD", "/org/tiny/resolve/main/config.json", $"Bearer {HubSandbox.Token}", null),
            "one HEAD pins the commit; every other file is cached (or known missing) at that commit");

        s.Hub.ClearRequests();
        (await client.DownloadModelAsync("org/tiny", s.Commit)).Should().Be(folder);
        (await client.DownloadFileAsync("org/tiny", "vocab.txt", s.Commit)).Should().Be(Path.Combine(folder, "vocab.txt"));
        s.Hub.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task Offline_makes_no_request_and_resolves_from_refs()
    {
        using (var online = new HubClient(s.Options())) await online.DownloadModelAsync("org/tiny");
        s.Hub.ClearRequests();
        using var offline = new HubClient(s.Options(offline: true));
        (await offline.DownloadModelAsync("org/tiny")).Should().Be(Path.Combine(s.RepoDir("org/tiny"), "snapshots", s.Commit));

        var missing = async () => await offline.DownloadModelAsync("org/other");
        (await missing.Should().ThrowAsync<HubException>()).Which.Should().Match<HubException>(e =>
            e.Kind == HubErrorKind.NotCached && e.Message.Contains("org/other") && e.Message.Contains("HF_HUB_OFFLINE") && !e.Message.Contains('\n'));
        s.Hub.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task An_unreachable_hub_falls_back_to_the_cache_and_else_says_so_in_one_line()
    {
        using (var online = new HubClient(s.Options())) await online.DownloadModelAsync("org/tiny");
        using var dead = new HubClient(s.Options(endpoint: HubSandbox.DeadEndpoint()));
        var watch = Stopwatch.StartNew();
        (await dead.DownloadModelAsync("org/tiny")).Should().Be(Path.Combine(s.RepoDir("org/tiny"), "snapshots", s.Commit));

        var missing = async () => await dead.DownloadModelAsync("org/absent");
        (await missing.Should().ThrowAsync<HubException>()).Which.Should().Match<HubException>(e =>
            e.Kind == HubErrorKind.NotCached && e.Message.Contains("org/absent") && e.Message.Contains("cannot reach")
            && !e.Message.Contains('\n') && !e.Message.Contains(HubSandbox.Token));
        // A hang guard, not a speed target: a dead endpoint is refused at once, and nothing here may wait out retries.
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_renamed_repo_307_is_followed_by_hand_with_the_token_and_cached_under_the_asked_id()
    {
        s.Hub.Renamed["org/old-name"] = "org/tiny";
        using var client = new HubClient(s.Options());
        var folder = await client.DownloadModelAsync("org/old-name");
        folder.Should().StartWith(s.RepoDir("org/old-name"));
        Directory.Exists(s.RepoDir("org/tiny")).Should().BeFalse();
        var heads = s.Hub.Requests.Where(r => r.Method == "HEAD" && r.Path.EndsWith("/config.json")).ToList();
        heads.Select(r => r.Path).Should().Equal("/org/old-name/resolve/main/config.json", "/org/tiny/resolve/main/config.json");
        heads.Should().OnlyContain(r => r.Authorization == $"Bearer {HubSandbox.Token}");
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();
    }

    [Fact]
    public async Task Gated_repo_401_and_403_say_HF_TOKEN_and_never_print_the_token()
    {
        var gated = s.Hub.AddRepo("org/gated", HubSandbox.TinyFiles(), "model.safetensors");
        gated.GatedToken = "hf_GrantedToken";
        foreach (var (token, status) in new[] { ((string?)null, 401), ("hf_NotGrantedSecret", 403) })
        {
            using var client = new HubClient(s.Options(token));
            var act = async () => await client.DownloadModelAsync("org/gated");
            var e = (await act.Should().ThrowAsync<HubException>()).Which;
            e.Kind.Should().Be(HubErrorKind.GatedRepo);
            e.StatusCode.Should().Be(status);
            e.Message.Should().Contain("org/gated").And.Contain("HF_TOKEN").And.NotContain("\n");
            if (token is not null) e.ToString().Should().NotContain(token);
        }
        using var granted = new HubClient(s.Options("hf_GrantedToken"));
        (await granted.DownloadModelAsync("org/gated")).Should().EndWith(gated.Refs["main"]);

        // Once cached, a gated repo loads without a token (the 401 falls back to the cache, as huggingface_hub).
        using var anonymous = new HubClient(s.Options(null));
        (await anonymous.DownloadModelAsync("org/gated")).Should().EndWith(gated.Refs["main"]);
    }

    [Theory]
    [InlineData("org/missing", "main", "config.json", HubErrorKind.RepoNotFound, "repository org/missing not found")]
    [InlineData("org/tiny", "no-such-branch", "config.json", HubErrorKind.RevisionNotFound, "revision 'no-such-branch' not found")]
    [InlineData("org/tiny", "main", "tokenizer.json", HubErrorKind.EntryNotFound, "tokenizer.json not found at revision 'main'")]
    public async Task Hub_404s_map_by_X_Error_Code(string repo, string revision, string file, HubErrorKind kind, string message)
    {
        using var client = new HubClient(s.Options());
        var act = async () => await client.DownloadFileAsync(repo, file, revision);
        var e = (await act.Should().ThrowAsync<HubException>()).Which;
        e.Kind.Should().Be(kind);
        e.Message.Should().Contain(message).And.NotContain("\n").And.NotContain(HubSandbox.Token);
        if (kind == HubErrorKind.EntryNotFound)
        {
            File.Exists(Path.Combine(s.RepoDir(repo), ".no_exist", s.Commit, file)).Should().BeTrue();
            File.ReadAllText(Path.Combine(s.RepoDir(repo), "refs", "main")).Should().Be(s.Commit);
        }
        // Anonymous: a missing repo answers 401 RepoNotFound; the error says the id and HF_TOKEN.
        using var anonymous = new HubClient(s.Options(null));
        if (kind == HubErrorKind.RepoNotFound)
            (await ((Func<Task>)(async () => await anonymous.DownloadFileAsync(repo, file))).Should().ThrowAsync<HubException>())
                .Which.Message.Should().Contain("HTTP 401").And.Contain("HF_TOKEN");
    }

    [Fact]
    public async Task A_repo_without_weights_is_one_line_naming_the_formats()
    {
        s.Hub.AddRepo("org/noweights", new() { ["config.json"] = "{}"u8.ToArray() });
        using var client = new HubClient(s.Options());
        var act = async () => await client.DownloadModelAsync("org/noweights");
        (await act.Should().ThrowAsync<HubException>()).Which.Message.Should().Contain("org/noweights").And.Contain("model.safetensors").And.Contain("pytorch_model.bin");
    }

    [Fact]
    public async Task A_body_cut_mid_download_resumes_with_Range()
    {
        s.Hub.DropNextCdnBodyAfter = 100_000;
        using var client = new HubClient(s.Options());
        var folder = await client.DownloadModelAsync("org/tiny");
        File.ReadAllBytes(Path.Combine(folder, "model.safetensors")).Should().Equal(s.Tiny.Commits[s.Commit]["model.safetensors"]);
        s.Hub.Requests.Where(r => r.Host == "cdn").Select(r => r.Range).Should().Equal(null, "bytes=100000-");
        HubSandbox.Tree(Path.Combine(s.RepoDir("org/tiny"), "blobs")).Should().NotContain(p => p.EndsWith(".incomplete"));
    }

    [Fact]
    public async Task A_stalled_body_hits_the_read_timeout_and_resumes()
    {
        s.Hub.StallNextCdnBodyAfter = 50_000;
        var progress = new List<DownloadProgress>();
        using var client = new HubClient(s.Options() with { DownloadTimeout = TimeSpan.FromSeconds(1), Progress = p => { lock (progress) progress.Add(p); } });
        var watch = Stopwatch.StartNew();
        var folder = await client.DownloadModelAsync("org/tiny");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "the read timeout ends the stall (the stalled body waits 5 s per try) and the download resumes; a hang guard, generous for loaded CI machines");
        var expected = s.Tiny.Commits[s.Commit]["model.safetensors"];
        File.ReadAllBytes(Path.Combine(folder, "model.safetensors")).Should().Equal(expected);
        // The stall is ended by the read timeout and the download resumes where the body stopped. (On a crowded machine a
        // read may also time out before the stall: then there are more resumes, each from the bytes held so far.)
        var ranges = s.Hub.Requests.Where(r => r.Host == "cdn").Select(r => r.Range).ToList();
        ranges[0].Should().BeNull("the first GET asks for the whole body");
        var offsets = ranges.Skip(1).Select(r => long.Parse(r!["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        offsets.Should().NotBeEmpty("the stalled body was resumed").And.BeInAscendingOrder().And.OnlyHaveUniqueItems("each resume starts after what the last one got");
        if (ranges.Count == 2) ranges[1].Should().Be("bytes=50000-", "the download resumes at the byte where the body stalled");
        else offsets[^1].Should().BeGreaterThanOrEqualTo(50_000, "the last resume starts at or after the stall");
        progress.Where(p => p.FileName == "model.safetensors").Last().Should().Be(new DownloadProgress("org/tiny", "model.safetensors", expected.Length, expected.Length));
    }

    [Fact]
    public async Task A_slow_answer_times_out_and_is_retried()
    {
        s.Hub.SlowHeads = 1;
        s.Hub.SlowDelay = TimeSpan.FromMilliseconds(800);
        using var client = new HubClient(s.Options() with { EtagTimeout = TimeSpan.FromMilliseconds(200) });
        var watch = Stopwatch.StartNew();
        var path = await client.DownloadFileAsync("org/tiny", "config.json");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "a hang guard; the retry itself is proven by the two HEADs");
        File.ReadAllBytes(path).Should().Equal(s.Tiny.Commits[s.Commit]["config.json"]);
        s.Hub.Requests.Count(r => r.Method == "HEAD").Should().Be(2);
    }

    [Fact]
    public async Task A_corrupt_lfs_download_fails_the_sha256_check_and_leaves_nothing_in_blobs()
    {
        s.Hub.CorruptCdn = true;
        using var client = new HubClient(s.Options());
        var act = async () => await client.DownloadModelAsync("org/tiny");
        var e = (await act.Should().ThrowAsync<HubException>()).Which;
        e.Kind.Should().Be(HubErrorKind.Integrity);
        e.Message.Should().Contain("sha256").And.Contain("model.safetensors").And.NotContain("\n");
        var repo = s.RepoDir("org/tiny");
        File.Exists(Path.Combine(repo, "blobs", Etag("model.safetensors"))).Should().BeFalse();
        HubSandbox.Tree(Path.Combine(repo, "blobs")).Should().NotContain(p => p.EndsWith(".incomplete"));
        File.Exists(Path.Combine(repo, "snapshots", s.Commit, "model.safetensors")).Should().BeFalse();
    }

    [Fact]
    public async Task A_full_disk_is_one_line_and_leaves_no_partial_blob()
    {
        var options = s.Options() with { OpenTempFile = path => new FullDisk(path, 4096) };
        using var client = new HubClient(options);
        var act = async () => await client.DownloadModelAsync("org/tiny");
        var e = (await act.Should().ThrowAsync<HubException>()).Which;
        e.Kind.Should().Be(HubErrorKind.DiskFull);
        e.Message.Should().Contain("no space left").And.Contain("HF_HUB_CACHE").And.NotContain("\n");
        // config.json (467 bytes) fit and is complete; vocab.txt did not: no partial file of it anywhere.
        HubSandbox.Tree(Path.Combine(s.RepoDir("org/tiny"), "blobs")).Should().Equal(Etag("config.json"));
        File.Exists(Path.Combine(s.RepoDir("org/tiny"), "snapshots", s.Commit, "vocab.txt")).Should().BeFalse();
    }

    /// <summary>A file stream that fails like a full disk (ENOSPC) after some bytes.</summary>
    private sealed class FullDisk(string path, long capacity) : FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite)
    {
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) =>
            Length + buffer.Length > capacity ? throw new IOException("No space left on device", 28) : base.WriteAsync(buffer, ct);
    }

    [Fact]
    public async Task Sharded_safetensors_fetch_the_index_and_only_the_shards_it_names()
    {
        var index = """{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}""";
        var repo = s.Hub.AddRepo("org/sharded", new()
        {
            ["config.json"] = "{}"u8.ToArray(),
            ["model.safetensors.index.json"] = Encoding.UTF8.GetBytes(index),
            ["model-00001-of-00002.safetensors"] = [1, 2, 3, 4],
            ["model-00002-of-00002.safetensors"] = [5, 6, 7, 8],
            ["old-model-00001-of-00001.safetensors"] = [9],
            ["pytorch_model.bin"] = [10],
        }, "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "pytorch_model.bin");
        using var client = new HubClient(s.Options());
        var folder = await client.DownloadModelAsync("org/sharded");
        HubSandbox.Tree(folder).Should().Equal("config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json");
        s.Hub.Requests.Should().NotContain(r => r.Path.Contains("pytorch_model.bin") || r.Path.Contains("old-model"));
        s.Hub.Requests.Count(r => r.Host == "cdn").Should().Be(2);
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();
    }

    [Fact]
    public async Task Server_file_names_that_leave_the_cache_are_refused()
    {
        var index = """{"weight_map":{"a":"../../../../evil.safetensors"}}""";
        s.Hub.AddRepo("org/evil", new() { ["config.json"] = "{}"u8.ToArray(), ["model.safetensors.index.json"] = Encoding.UTF8.GetBytes(index) });
        using var client = new HubClient(s.Options());
        var act = async () => await client.DownloadModelAsync("org/evil");
        (await act.Should().ThrowAsync<HubException>()).Which.Should().Match<HubException>(e => e.Kind == HubErrorKind.Invalid && e.Message.Contains("../../../../evil.safetensors"));
        Directory.EnumerateFiles(s.Root, "evil*", SearchOption.AllDirectories).Should().BeEmpty();
        s.Hub.Requests.Should().NotContain(r => r.Path.Contains("evil.safetensors"));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b/c")]
    [InlineData("a--b")]
    [InlineData("/abs/path")]
    [InlineData("org/name.git")]
    [InlineData("")]
    public async Task Invalid_repo_ids_are_refused_before_any_request(string id)
    {
        using var client = new HubClient(s.Options());
        var act = async () => await client.DownloadFileAsync(id, "config.json");
        (await act.Should().ThrowAsync<HubException>()).Which.Kind.Should().Be(HubErrorKind.Invalid);
        var bad = async () => await client.DownloadFileAsync("org/tiny", "../../etc/passwd");
        (await bad.Should().ThrowAsync<HubException>()).Which.Kind.Should().Be(HubErrorKind.Invalid);
        s.Hub.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task Two_clients_downloading_the_same_blob_take_the_lock_and_download_it_once()
    {
        using var a = new HubClient(s.Options());
        using var b = new HubClient(s.Options());
        var folders = await Task.WhenAll(a.DownloadModelAsync("org/tiny"), b.DownloadModelAsync("org/tiny"));
        folders[0].Should().Be(folders[1]);
        s.Hub.Requests.Count(r => r.Host == "cdn").Should().Be(1);
        File.Exists(Path.Combine(s.Cache, ".locks", "models--org--tiny", Etag("model.safetensors") + ".lock")).Should().BeTrue();
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();
    }

    [Fact]
    public async Task Include_patterns_download_matching_files_of_the_snapshot()
    {
        using var client = new HubClient(s.Options());
        var folder = await client.SnapshotDownloadAsync("org/tiny", null, ["*.json", "*.bin"]);
        HubSandbox.Tree(folder).Should().Equal("config.json", "pytorch_model.bin");
        s.Hub.Requests.Should().Contain(r => r.Path == "/api/models/org/tiny/revision/main");
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();
    }

    [Fact]
    public async Task Cancellation_stops_the_download()
    {
        using var client = new HubClient(s.Options());
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var act = async () => await client.DownloadModelAsync("org/tiny", ct: cts.Token);
        await act.Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Symlinks_disabled_copies_into_the_snapshot()
    {
        using var client = new HubClient(s.Options() with { DisableSymlinks = true });
        var folder = await client.DownloadModelAsync("org/tiny");
        new FileInfo(Path.Combine(folder, "model.safetensors")).LinkTarget.Should().BeNull();
        File.ReadAllBytes(Path.Combine(folder, "model.safetensors")).Should().Equal(s.Tiny.Commits[s.Commit]["model.safetensors"]);
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();
    }
}
