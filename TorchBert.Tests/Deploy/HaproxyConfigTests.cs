using System.Diagnostics;
using TorchBert.LoadTest;

namespace TorchBert.Tests.Deploy;

/// <summary>
/// deploy/local/haproxy.cfg: accepted by the real HAProxy (haproxy -c, with the server lines the fault run appends), and
/// configured as the local cluster needs: active checks on /health, L7 retries on connection failure, empty response,
/// response timeout and a draining replica's 503, each retry redispatched, requests buffered, retries limited to the
/// idempotent inference routes.
/// </summary>
public sealed class HaproxyConfigTests
{
    private static readonly string Template = DeployFiles.Path_("local", "haproxy.cfg");

    private static string[] Lines(string backend)
    {
        var lines = File.ReadAllLines(Template).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var start = lines.IndexOf($"backend {backend}");
        start.Should().BeGreaterThanOrEqualTo(0);
        return lines.Skip(start + 1).TakeWhile(l => !l.StartsWith("backend ") && !l.StartsWith("frontend ")).ToArray();
    }

    [Fact]
    public async Task The_real_haproxy_accepts_the_config_with_replica_lines()
    {
        var dir = Directory.CreateTempSubdirectory("torchbert-haproxy-").FullName;
        try
        {
            var config = Path.Combine(dir, "haproxy.cfg");
            File.WriteAllText(config, "# replicas below\n" + File.ReadAllText(Template).TrimEnd() + "\n    server r1 127.0.0.1:18081\n    server r2 127.0.0.1:18082\n");
            var start = new ProcessStartInfo(LoadBalancer.HaproxyBinary(), ["-c", "-f", config]) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["TB_LB_PORT"] = "18080";
            start.Environment["TB_STATS_PORT"] = "18079";
            using var p = Process.Start(start)!;
            var err = p.StandardError.ReadToEndAsync();
            var output = await p.StandardOutput.ReadToEndAsync() + await err;
            await p.WaitForExitAsync();
            p.ExitCode.Should().Be(0, output);
            output.Should().NotContain("WARNING", "a warning means a directive is ignored");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Health_checks_retries_redispatch_and_buffering_are_configured()
    {
        var b = Lines("replicas");
        b.Should().Contain("option httpchk GET /health");
        b.Should().Contain("http-check expect status 200");
        b.Should().Contain(l => l.StartsWith("default-server") && l.EndsWith(" check"));
        var retryOn = b.Single(l => l.StartsWith("retry-on ")).Split(' ').Skip(1).ToList();
        retryOn.Should().BeEquivalentTo(["conn-failure", "empty-response", "response-timeout", "503"]);
        retryOn.Should().NotContain("429", "overload is the client's signal");
        b.Should().Contain("option redispatch 1", "every retry goes to another replica");
        b.Should().Contain("option http-buffer-request");
        b.Should().Contain(l => l.StartsWith("retries ") && int.Parse(l.Split(' ')[1]) >= 2);
        var acl = b.Single(l => l.StartsWith("acl inference path ")).Split(' ').Skip(3).ToList();
        acl.Should().Contain([ServerContract.Embed, "/v1/embeddings", "/predict", "/rerank"]);
        b.Should().Contain("http-request disable-l7-retry if !METH_GET !inference");
    }
}
