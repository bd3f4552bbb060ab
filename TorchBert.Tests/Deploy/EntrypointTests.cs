using System.Diagnostics;
using System.Text.Json;
using TorchBert.Loading;
using TorchBert.Pipelines;
using TorchBert.Tests.Cli;
using static TorchSharp.torch;

namespace TorchBert.Tests.Deploy;

/// <summary>
/// The image's runtime, laid out on this machine as the Dockerfile lays it out (no Docker here): the CLI's output as
/// <c>/app</c> (hard links), the build stage's default-model import as <c>/opt/torchbert/weights</c>, volumes for
/// <c>/data</c> and <c>/tmp</c>, the image's ENV with those paths mapped, and its ENTRYPOINT run from WORKDIR as the
/// image's USER (uid 1654 through setpriv when the tests run as root): everything but the volumes is owned by root and
/// not writable, as on a read-only root filesystem.
/// </summary>
public sealed class ImageLayout : IDisposable
{
    public ImageLayout()
    {
        Root = Directory.CreateTempSubdirectory("torchbert-image-").FullName;
        App = Path.Combine(Root, "app");
        var built = Path.GetDirectoryName(CliRunner.DllPath)!;
        // COPY --from=build /app /app: hard links (same file system) or a copy.
        if (Run("cp", ["-al", built, App]) != 0) Run("cp", ["-a", built, App]).Should().Be(0);
        Weights = Path.Combine(Root, "opt", "torchbert", "weights");
        // RUN TORCHBERT_WEIGHTS=/opt/torchbert/weights /app/torchbert inspect   (build stage, as root)
        var import = new ProcessStartInfo(Path.Combine(App, "torchbert"), ["inspect"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        import.Environment["TORCHBERT_WEIGHTS"] = Weights;
        using (var p = Process.Start(import)!)
        {
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            p.ExitCode.Should().Be(0, err.Result);
        }
        Data = Directory.CreateDirectory(Path.Combine(Root, "volumes", "data")).FullName;
        Tmp = Directory.CreateDirectory(Path.Combine(Root, "volumes", "tmp")).FullName;
        AsRoot = Environment.UserName == "root" && File.Exists("/usr/bin/setpriv");
        // Temporary folders are created 0700; the image's directories are world-readable (0755).
        Run("chmod", ["755", Root, Path.Combine(Root, "volumes"), Path.Combine(Root, "opt"), Path.Combine(Root, "opt", "torchbert")]).Should().Be(0);
        if (AsRoot) Run("chown", ["-R", $"{Uid}:{Uid}", Data, Tmp]).Should().Be(0);
        else Run("chmod", ["-R", "a-w", App, Path.Combine(Root, "opt")]).Should().Be(0);
    }

    public const int Uid = 1654;
    public string Root { get; }
    public string App { get; }
    public string Weights { get; }
    public string Data { get; }
    public string Tmp { get; }
    private bool AsRoot { get; }

    /// <summary>An image path mapped onto this layout (/app, /opt/torchbert/weights, /data, /tmp).</summary>
    public string Map(string imagePath) => imagePath switch
    {
        _ when imagePath.StartsWith("/opt/torchbert/weights") => Weights + imagePath["/opt/torchbert/weights".Length..],
        _ when imagePath.StartsWith("/app") => App + imagePath["/app".Length..],
        _ when imagePath.StartsWith("/data") => Data + imagePath["/data".Length..],
        _ when imagePath.StartsWith("/tmp") => Tmp + imagePath["/tmp".Length..],
        _ => imagePath,
    };

    /// <summary>Starts ENTRYPOINT + <paramref name="args"/> with the image's ENV (paths mapped), as the image's user.</summary>
    public Process Start(string dockerfile, IReadOnlyList<string> args)
    {
        var entry = EntrypointTests.Instructions(dockerfile, "ENTRYPOINT").Last().ExecForm!;
        var workdir = EntrypointTests.Instructions(dockerfile, "WORKDIR").Last().Arguments.Trim();
        var command = new List<string> { Map(entry[0]) };
        command.AddRange(entry.Skip(1));
        command.AddRange(args);
        var start = AsRoot
            ? new ProcessStartInfo("/usr/bin/setpriv", ["--reuid", Uid.ToString(), "--regid", Uid.ToString(), "--clear-groups", "--", .. command])
            : new ProcessStartInfo(command[0], command.Skip(1));
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = Map(workdir);
        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root) start.Environment["DOTNET_ROOT"] = root;
        foreach (var (k, v) in EntrypointTests.ImageEnvironment(dockerfile)) start.Environment[k] = v.StartsWith('/') ? Map(v) : v;
        return Process.Start(start)!;
    }

    private static int Run(string file, string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode;
    }

    public void Dispose()
    {
        Run("chmod", ["-R", "u+w", Root]);
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// What the images run, run here: the published CLI with the image's ENTRYPOINT, ENV, WORKDIR and USER, writing only to
/// its volumes. The CPU and CUDA images share everything but the backend and --device, so the CPU one is run.
/// </summary>
public sealed class EntrypointTests(ImageLayout image) : IClassFixture<ImageLayout>
{
    internal static List<DockerInstruction> Instructions(string dockerfile, string keyword)
    {
        var all = Dockerfile.Parse(DeployFiles.Path_("docker", dockerfile));
        return DockerfileTests.Effective(all, DockerfileTests.FinalStage(all)).Where(i => i.Keyword == keyword).ToList();
    }

    /// <summary>The final stage's ENV (KEY=VALUE pairs, in order).</summary>
    public static Dictionary<string, string> ImageEnvironment(string dockerfile)
    {
        var env = new Dictionary<string, string>();
        foreach (var i in Instructions(dockerfile, "ENV"))
            foreach (var pair in i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                eq.Should().BePositive($"ENV {pair} is KEY=VALUE");
                env[pair[..eq]] = pair[(eq + 1)..];
            }
        return env;
    }

    /// <summary>The HEALTHCHECK's exec-form command (after <c>CMD</c>), or null.</summary>
    public static string[]? HealthCheckCommand(string dockerfile)
    {
        var h = Instructions(dockerfile, "HEALTHCHECK").Single().Arguments;
        var at = h.IndexOf("CMD ", StringComparison.Ordinal);
        return at < 0 ? null : new DockerInstruction("CMD", h[(at + 4)..], 0, null).ExecForm;
    }

    [Fact]
    public async Task The_image_entrypoint_embeds_with_the_baked_default_model_as_non_root_on_a_read_only_layout()
    {
        using var p = image.Start("Dockerfile", ["embed", "--json", "The cat sits outside"]);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        p.ExitCode.Should().Be(0, await stderr);
        (await stderr).Should().NotContain("importing", "the default model was imported at build time, into the image");
        var got = JsonSerializer.Deserialize<float[][]>(await stdout)!;
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(DefaultModel.EnsureInstalled(), new PipelineOptions { Device = CPU }, new SentenceEmbeddingOptions());
        got.Should().ContainSingle().Which.Should().Equal(pipe.Run(["The cat sits outside"])[0], (a, b) => Math.Abs(a - b) <= 1e-5);
    }

    [Fact]
    public async Task The_image_cmd_serves_health_and_embed_and_its_healthcheck_passes_then_sigterm_drains_to_exit_0()
    {
        // CMD with the port and address mapped for a shared test machine: a free port, loopback only.
        var port = TorchBert.LoadTest.LoadBalancer.FreePort();
        var cmd = Instructions("Dockerfile", "CMD").Last().ExecForm!.ToList();
        cmd[cmd.IndexOf("--port") + 1] = port.ToString();
        cmd[cmd.IndexOf("--hostname") + 1] = "127.0.0.1";
        using var p = image.Start("Dockerfile", cmd);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var url = $"http://127.0.0.1:{port}";
            var until = DateTime.UtcNow.AddMinutes(3);
            while (true)
            {
                if (p.HasExited) throw new InvalidOperationException($"the server exited early ({p.ExitCode}): {await stderr}");
                try { if ((await http.GetAsync(url + ServerContract.Health)).IsSuccessStatusCode) break; }
                catch (HttpRequestException) { }
                DateTime.UtcNow.Should().BeBefore(until, "the server becomes healthy");
                await Task.Delay(250);
            }

            // The HEALTHCHECK, as Docker runs it (its port mapped).
            var check = HealthCheckCommand("Dockerfile")!.Select(a => a.Replace($"/dev/tcp/127.0.0.1/{ServerContract.DefaultPort}", $"/dev/tcp/127.0.0.1/{port}")).ToArray();
            using (var h = System.Diagnostics.Process.Start(new ProcessStartInfo(check[0], check.Skip(1)) { RedirectStandardError = true })!)
            {
                await h.WaitForExitAsync();
                h.ExitCode.Should().Be(0, "the HEALTHCHECK command succeeds against a healthy server");
            }

            using var response = await http.PostAsync(url + ServerContract.Embed, new StringContent("{\"inputs\":\"The cat sits outside\"}", System.Text.Encoding.UTF8, "application/json"));
            response.StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
            var got = JsonSerializer.Deserialize<float[][]>(await response.Content.ReadAsStringAsync())!;
            using (var pipe = SentenceEmbeddingPipeline.FromPretrained(DefaultModel.EnsureInstalled(), new PipelineOptions { Device = CPU }, new SentenceEmbeddingOptions { Normalize = true }))
                got.Should().ContainSingle().Which.Should().Equal(pipe.Run(["The cat sits outside"])[0], (a, b) => Math.Abs(a - b) <= 1e-5);

            var metrics = await http.GetStringAsync(url + ServerContract.Metrics);
            foreach (var name in new[] { "te_queue_size", "te_request_inference_duration_sum", "te_request_inference_duration_count" })
                metrics.Should().Contain(name, "the HPA's prometheus-adapter rules read it");

            TorchBert.LoadTest.Signals.Send(p, TorchBert.LoadTest.Signals.Term);
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(ServerContract.DefaultDrainTimeoutSeconds + 30));
            p.ExitCode.Should().Be(0, "SIGTERM reaches the exec-form ENTRYPOINT, which drains and exits 0: " + await stderr);
        }
        finally
        {
            if (!p.HasExited) { p.Kill(entireProcessTree: true); await p.WaitForExitAsync(); }
        }
    }
}
