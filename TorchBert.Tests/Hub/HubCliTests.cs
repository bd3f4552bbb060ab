using System.Text.Json.Nodes;
using TorchBert.Tests.Cli;

namespace TorchBert.Tests.Hub;

/// <summary><c>torchbert download</c>, <c>cache list</c>, <c>cache rm</c> and <c>--model ID --revision R</c> against the fake Hub.</summary>
public sealed class HubCliTests : IDisposable
{
    private readonly HubSandbox s = new();

    public void Dispose() => s.Dispose();

    private CliResult Run(bool offline, params string[] args) => CliRunner.RunWithEnvironment(new Dictionary<string, string?>
    {
        ["HF_ENDPOINT"] = s.Hub.Endpoint.ToString(),
        ["HF_HUB_CACHE"] = s.Cache,
        ["HF_HUB_OFFLINE"] = offline ? "1" : null,
        ["HF_TOKEN"] = HubSandbox.Token,
    }, Path.Combine(s.Root, "weights"), s.Root, args);

    [Fact]
    public void Download_list_run_and_remove()
    {
        var download = Run(false, "download", "org/tiny", "--revision", "main");
        download.ExitCode.Should().Be(0, download.ToString());
        download.Stdout.Trim().Should().Be(Path.Combine(s.RepoDir("org/tiny"), "snapshots", s.Commit));
        download.Stderr.Should().NotContain(HubSandbox.Token);
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();

        var list = Run(true, "cache", "list", "--json");
        list.ExitCode.Should().Be(0, list.ToString());
        var repo = JsonNode.Parse(list.Stdout)!.AsArray().Single()!;
        repo["repo_id"]!.GetValue<string>().Should().Be("org/tiny");
        repo["nb_files"]!.GetValue<int>().Should().Be(3);
        repo["refs"]!.AsArray().Select(x => x!.GetValue<string>()).Should().Equal("main");

        // Offline, fill-mask on the Hub id runs from the cache (zero requests).
        s.Hub.ClearRequests();
        var fill = Run(true, "fill-mask", "--model", "org/tiny", "--json", "--top-k", "1", "the capital of france is [MASK].");
        fill.ExitCode.Should().Be(0, fill.ToString());
        JsonNode.Parse(fill.Stdout)!.AsArray().Should().ContainSingle();
        s.Hub.Requests.Should().BeEmpty();

        var rm = Run(true, "cache", "rm", "org/tiny");
        rm.ExitCode.Should().Be(0, rm.ToString());
        rm.Stdout.Should().Contain("deleted org/tiny");
        Directory.Exists(s.RepoDir("org/tiny")).Should().BeFalse();
        var again = Run(true, "cache", "rm", "org/tiny");
        again.ExitCode.Should().Be(2);
        again.StderrLines.Should().ContainSingle().Which.Should().Contain("org/tiny is not in the cache");
    }

    [Fact]
    public void Unknown_revision_and_gated_repos_are_one_line()
    {
        var bad = Run(false, "tokenize", "--model", "org/tiny", "--revision", "v9", "hello");
        bad.ExitCode.Should().Be(1, bad.ToString());
        bad.StderrLines.Should().ContainSingle().Which.Should().Be("torchbert: error: org/tiny: revision 'v9' not found (HTTP 404); pass an existing branch, tag or commit with --revision / Revision");

        s.Hub.AddRepo("org/gated", HubSandbox.TinyFiles(), "model.safetensors").GatedToken = "hf_someoneElse";
        var gated = Run(false, "download", "org/gated");
        gated.ExitCode.Should().Be(1, gated.ToString());
        gated.StderrLines.Should().ContainSingle().Which.Should().Contain("org/gated is a gated repo").And.Contain("HF_TOKEN").And.NotContain(HubSandbox.Token);
    }
}
