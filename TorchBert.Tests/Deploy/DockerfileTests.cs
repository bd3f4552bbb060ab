namespace TorchBert.Tests.Deploy;

/// <summary>
/// deploy/docker/Dockerfile and Dockerfile.cuda, structurally (no Docker on this machine): multi-stage SDK build →
/// ASP.NET runtime, the backend each builds, a non-root numeric USER, exec-form ENTRYPOINT/CMD (SIGTERM reaches
/// torchbert), a HEALTHCHECK on /health at the exposed port, HF_HOME on a volume, the optional baked-model stage.
/// What the image runs is run for real by <see cref="EntrypointTests"/>.
/// </summary>
public sealed class DockerfileTests
{
    public static TheoryData<string, string> Files => new() { { "Dockerfile", "cpu" }, { "Dockerfile.cuda", "cuda-linux" } };

    private static List<DockerInstruction> Load(string file) => Dockerfile.Parse(DeployFiles.Path_("docker", file));

    /// <summary>Instructions that apply to the stage named <paramref name="stage"/>, following FROM chains to earlier stages.</summary>
    internal static List<DockerInstruction> Effective(List<DockerInstruction> all, int stage)
    {
        var from = all.Single(i => i.Keyword == "FROM" && i.Stage == stage);
        var image = from.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var parent = all.FirstOrDefault(i => i.Keyword == "FROM" && i.StageName == image && i.Stage < stage);
        var own = all.Where(i => i.Stage == stage && i.Keyword != "FROM").ToList();
        return parent is null ? own : [.. Effective(all, parent.Stage), .. own];
    }

    internal static int FinalStage(List<DockerInstruction> all) => all.Max(i => i.Stage);

    [Theory, MemberData(nameof(Files))]
    public void Builds_with_the_sdk_and_runs_on_aspnet_with_the_right_backend(string file, string backend)
    {
        var all = Load(file);
        var froms = all.Where(i => i.Keyword == "FROM").ToList();
        froms.First().Arguments.Should().StartWith("mcr.microsoft.com/dotnet/sdk:");
        froms.Single(i => i.StageName == "runtime").Arguments.Should().StartWith("mcr.microsoft.com/dotnet/aspnet:");
        all.Should().ContainSingle(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish tools/TorchBert.Cli"))
            .Which.Arguments.Should().Contain($"-p:TorchBertBackend={backend}");
        all.Should().Contain(i => i.Keyword == "RUN" && i.Arguments.Contains("torchbert download"), "an optional stage bakes a Hub model in");
        froms.Should().Contain(i => i.StageName == "baked");
        Effective(all, FinalStage(all)).Should().NotContain(i => i.Keyword == "COPY" && i.Arguments.Contains("--from=download"), "the default image has no baked Hub model");
    }

    [Theory, MemberData(nameof(Files))]
    public void Every_image_stage_runs_as_a_numeric_non_root_user_with_exec_form_entrypoint(string file, string _)
    {
        var all = Load(file);
        foreach (var stage in new[] { all.Single(i => i.Keyword == "FROM" && i.StageName == "runtime").Stage, all.Single(i => i.Keyword == "FROM" && i.StageName == "baked").Stage, FinalStage(all) })
        {
            var eff = Effective(all, stage);
            var user = eff.Last(i => i.Keyword == "USER").Arguments.Trim();
            int.TryParse(user, out var uid).Should().BeTrue("Kubernetes' runAsNonRoot can only verify a numeric USER");
            uid.Should().NotBe(0);
            var entry = eff.Last(i => i.Keyword == "ENTRYPOINT").ExecForm;
            entry.Should().NotBeNull("exec form: torchbert is PID 1 and gets SIGTERM (shell form would give it to /bin/sh)");
            entry.Should().Equal(["/app/torchbert"]);
            var cmd = eff.Last(i => i.Keyword == "CMD").ExecForm;
            cmd.Should().NotBeNull().And.StartWith(["serve"]);
        }
    }

    [Theory, MemberData(nameof(Files))]
    public void Health_check_asks_health_on_the_exposed_port_and_hf_home_is_on_a_volume(string file, string _)
    {
        var all = Load(file);
        var eff = Effective(all, FinalStage(all));
        var port = eff.Single(i => i.Keyword == "EXPOSE").Arguments.Trim();
        var health = eff.Single(i => i.Keyword == "HEALTHCHECK").Arguments;
        health.Should().Contain("CMD [");
        var command = EntrypointTests.HealthCheckCommand(file);
        command.Should().NotBeNull("the HEALTHCHECK command is in exec form");
        string.Join(' ', command!).Should().Contain($"/dev/tcp/127.0.0.1/{port}").And.Contain("GET /health ");
        var cmd = eff.Last(i => i.Keyword == "CMD").ExecForm!;
        cmd[cmd.ToList().IndexOf("--port") + 1].Should().Be(port);
        var env = EntrypointTests.ImageEnvironment(file);
        var volumes = eff.Where(i => i.Keyword == "VOLUME").SelectMany(i => i.ExecForm ?? []).ToList();
        volumes.Should().Contain("/tmp");
        volumes.Should().Contain(v => env["HF_HOME"].StartsWith(v + "/"), "HF_HOME lives on a volume");
        env["TMPDIR"].Should().Be("/tmp");
    }
    [Theory, MemberData(nameof(Files))]
    public void The_baked_stage_serves_offline_the_model_and_revision_its_download_stage_fetched(string file, string _)
    {
        // torchbert serve reads MODEL_ID and REVISION (TEI's variables, ServerOptions.FromEnvironment); offline, a revision
        // other than the one downloaded has no ref in the cache, so both must reach the server as the download used them.
        var all = Load(file);
        var download = all.Single(i => i.Keyword == "FROM" && i.StageName == "download").Stage;
        var baked = all.Single(i => i.Keyword == "FROM" && i.StageName == "baked").Stage;
        string Arg(int stage, string name) => all.Single(i => i.Stage == stage && i.Keyword == "ARG" && i.Arguments.Trim().StartsWith(name + "=")).Arguments.Trim();
        Arg(baked, "MODEL").Should().Be(Arg(download, "MODEL"), "the same default model");
        Arg(baked, "REVISION").Should().Be(Arg(download, "REVISION"), "the same default revision");
        all.Single(i => i.Stage == download && i.Keyword == "RUN").Arguments.Should().Contain("download \"${MODEL}\" --revision \"${REVISION}\"");
        var env = string.Join(' ', all.Where(i => i.Stage == baked && i.Keyword == "ENV").Select(i => i.Arguments));
        env.Should().Contain("MODEL_ID=${MODEL}").And.Contain("REVISION=${REVISION}").And.Contain("HF_HUB_OFFLINE=1");
        var copy = all.Single(i => i.Stage == baked && i.Keyword == "COPY" && i.Arguments.Contains("--from=download")).Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        env.Should().Contain($"HF_HUB_CACHE={copy[^1]}", "the server's Hub cache is the copied one");
    }
}
