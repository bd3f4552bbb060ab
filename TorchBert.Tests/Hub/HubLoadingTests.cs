using System.Text;
using TorchBert.Hub;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Hub;

/// <summary>Hub ids through the library's entry points (FromPretrained, pipelines, tokenizer) and caches written by Python.</summary>
public sealed class HubLoadingTests : IDisposable
{
    private readonly HubSandbox s = new();

    public void Dispose() => s.Dispose();

    [Fact]
    public void A_hub_id_through_FromPretrained_gives_hf_logits()
    {
        var locator = s.Locator();
        using var model = BertForMaskedLM.FromPretrained("org/tiny", new PretrainedOptions { Device = CPU, Revision = "main" }, locator);
        var e = Fixtures.Expected("tiny-bert-mlm");
        using (inference_mode())
        using (var output = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]))
            TensorAssert.Close(output.Logits, e["logits"], 1e-4, "logits of org/tiny via the Hub");
        model.LoadReport!.Source.Should().StartWith(Path.Combine(s.RepoDir("org/tiny"), "snapshots", s.Commit));
        foreach (var t in e.Values) t.Dispose();
    }

    [Fact]
    public async Task FromPretrainedAsync_and_a_pipeline_take_a_hub_id()
    {
        var locator = s.Locator();
        using (var model = await BertModel.FromPretrainedAsync("org/tiny", new PretrainedOptions { Device = CPU }, locator))
            model.Config.VocabSize.Should().Be(Fixtures.Config("tiny-bert-mlm").VocabSize);

        using var viaHub = FillMaskPipeline.FromPretrained("org/tiny", new PipelineOptions { Device = CPU, Revision = s.Commit, Locator = locator });
        using var local = FillMaskPipeline.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PipelineOptions { Device = CPU });
        var text = "the capital of france is [MASK].";
        viaHub.Run(text)[0].Should().BeEquivalentTo(local.Run(text)[0], o => o.WithStrictOrdering());
        s.Hub.Requests.Should().NotContain(r => r.Path.Contains("pytorch_model.bin"));
    }

    [Fact]
    public void A_local_folder_wins_over_a_hub_id_of_the_same_name()
    {
        var cwdModel = Path.Combine(s.Root, "org", "tiny");
        Directory.CreateDirectory(Path.GetDirectoryName(cwdModel)!);
        s.Locator().Resolve(Fixtures.Dir("tiny-bert-mlm")).Should().Be(Fixtures.Dir("tiny-bert-mlm"));
        ModelLocator.IsHubId("org/tiny").Should().BeTrue();
        ModelLocator.IsHubId(Fixtures.Dir("tiny-bert-mlm")).Should().BeFalse();
        ModelLocator.IsEmbedded("sentence-transformers/all-MiniLM-L6-v2").Should().BeTrue();
        s.Hub.Requests.Should().BeEmpty();
    }

    /// <summary>
    /// A cache laid out by hand exactly as huggingface_hub writes it after <c>from_pretrained</c>: blobs named by
    /// sha256 (LFS) or git sha1, relative links, refs/main without newline, .no_exist markers for the optional files.
    /// </summary>
    private string PythonCache(string id)
    {
        var repo = s.RepoDir(id);
        var commit = "0123456789abcdef0123456789abcdef01234567";
        var files = HubSandbox.TinyFiles();
        foreach (var (name, bytes) in files)
        {
            if (name == "pytorch_model.bin") continue;
            var etag = name == "model.safetensors" ? FakeHub.Sha256(bytes) : FakeHub.GitSha1(bytes);
            Directory.CreateDirectory(Path.Combine(repo, "blobs"));
            File.WriteAllBytes(Path.Combine(repo, "blobs", etag), bytes);
            Directory.CreateDirectory(Path.Combine(repo, "snapshots", commit));
            File.CreateSymbolicLink(Path.Combine(repo, "snapshots", commit, name), $"../../blobs/{etag}");
        }
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllBytes(Path.Combine(repo, "refs", "main"), Encoding.ASCII.GetBytes(commit));
        foreach (var missing in new[] { "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "added_tokens.json" })
        {
            Directory.CreateDirectory(Path.Combine(repo, ".no_exist", commit));
            File.WriteAllBytes(Path.Combine(repo, ".no_exist", commit, missing), []);
        }
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty("the hand-made cache is what huggingface_hub writes");
        return commit;
    }

    [Fact]
    public void A_cache_written_by_huggingface_hub_loads_offline_with_zero_requests()
    {
        var commit = PythonCache("org/from-python");
        {
            var offline = s.Locator(offline: true);
            using var model = BertForMaskedLM.FromPretrained("org/from-python", new PretrainedOptions { Device = CPU }, offline);
            TokenizerLoader.ForModel("org/from-python", locator: offline).VocabSize.Should().Be(model.Config.VocabSize);
            model.LoadReport!.Source.Should().Contain(commit);
        }
        {
            // Online, a full commit hash that is cached costs no request either.
            using var model = BertForMaskedLM.FromPretrained("org/from-python", new PretrainedOptions { Device = CPU, Revision = commit }, s.Locator());
        }
        s.Hub.Requests.Should().BeEmpty();
    }

    [Fact]
    public void Offline_and_not_cached_is_a_one_line_error_naming_the_repo()
    {
        var offline = s.Locator(offline: true);
        var act = () => BertForMaskedLM.FromPretrained("org/never-downloaded", null, offline);
        act.Should().Throw<HubException>().Which.Message.Should().Contain("org/never-downloaded").And.Contain("HF_HUB_OFFLINE").And.NotContain("\n");
        s.Hub.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task The_cache_scan_and_delete_report_what_huggingface_hub_reports()
    {
        var commit = PythonCache("org/from-python");
        using (var client = new HubClient(s.Options())) await client.DownloadModelAsync("org/tiny");
        var cache = new HubCache(s.Cache);
        var repos = cache.Scan();
        repos.Select(r => r.RepoId).Should().Equal("org/from-python", "org/tiny");
        var py = repos[0];
        py.RepoType.Should().Be("model");
        py.FileCount.Should().Be(3);
        py.SizeOnDisk.Should().Be(HubSandbox.TinyFiles().Where(f => f.Key != "pytorch_model.bin").Sum(f => (long)f.Value.Length));
        py.Revisions.Should().ContainSingle().Which.Should().Match<CachedRevision>(r => r.Commit == commit && r.Refs.SequenceEqual(new[] { "main" }));
        cache.Delete("org/tiny").Should().BeTrue();
        cache.Delete("org/tiny").Should().BeFalse();
        cache.Scan().Select(r => r.RepoId).Should().Equal("org/from-python");
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();
    }

    [Fact]
    public void Marking_a_missing_file_another_client_holds_open_is_not_an_error()
    {
        var cache = new HubCache(s.Cache);
        cache.MarkMissing("org/tiny", s.Commit, "special_tokens_map.json");
        var marker = Directory.GetFiles(Path.Combine(s.RepoDir("org/tiny"), ".no_exist", s.Commit)).Should().ContainSingle().Subject;
        // Another client in the middle of its own touch, holding the marker with an exclusive lock (.NET's default share).
        using (File.Open(marker, FileMode.OpenOrCreate))
        {
            cache.MarkMissing("org/tiny", s.Commit, "special_tokens_map.json");
            cache.IsKnownMissing("org/tiny", s.Commit, "special_tokens_map.json").Should().BeTrue();
        }
        // Marking twice in a row, and concurrently, leaves the one empty marker.
        Parallel.For(0, 16, _ => cache.MarkMissing("org/tiny", s.Commit, "special_tokens_map.json"));
        new FileInfo(marker).Length.Should().Be(0);
    }
}
