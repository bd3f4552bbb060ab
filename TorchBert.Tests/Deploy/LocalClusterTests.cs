using Xunit.Abstractions;
using TorchBert.LoadTest;

namespace TorchBert.Tests.Deploy;

/// <summary>
/// The local cluster's fault run in its short form (deploy/local/cluster.sh --short): 2 real <c>torchbert serve</c>
/// replicas behind the real HAProxy on loopback, a closed-loop /embed load checked against the library's vectors,
/// SIGKILL, a rolling SIGTERM restart, SIGSTOP for 10 s, overload. Every fault: 0 errors.
/// </summary>
public sealed class LocalClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_cluster_survives_sigkill_rolling_sigterm_sigstop_and_overload_with_zero_errors()
    {
        var log = new StringWriter();
        var report = await FaultRun.RunAsync(new FaultRunOptions
        {
            TorchbertDll = Cli.CliRunner.DllPath,
            HaproxyConfig = DeployFiles.Path_("local", "haproxy.cfg"),
            Replicas = 2, Clients = 4, PhaseSeconds = 4, FreezeSeconds = 10, OverloadClients = 128, MaxConcurrentRequests = 8, DrainTimeoutSeconds = 10,
            Log = log,
        });
        output.WriteLine(log.ToString());
        output.WriteLine(report.Table());
        report.Failures.Should().BeEmpty(report.Table());
        report.Windows.Should().HaveCount(6);
        report.Windows.Where(w => !w.Name.StartsWith("overload")).Should().OnlyContain(w => w.Errors == 0 && w.Ok > 0 && w.TooMany == 0);
        var overload = report.Windows.Single(w => w.Name.StartsWith("overload"));
        overload.TooMany.Should().BePositive("overload is answered with 429");
        overload.Errors.Should().Be(0);
        Directory.Delete(report.RunDirectory, recursive: true);
    }
}
