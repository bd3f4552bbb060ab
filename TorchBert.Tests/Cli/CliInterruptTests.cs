using System.Text.Json.Nodes;
using TorchBert.Tests.Hub;
using TorchBert.Tests.Pipelines;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Cli;

/// <summary>
/// Ctrl-C as a real signal (SIGINT through kill(2)) to a real <c>torchbert</c> process: <c>train</c> and <c>download</c>
/// stop cleanly, exit 130, and leave the last complete checkpoint / the cache intact with nothing partial.
/// </summary>
public sealed class CliInterruptTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly string root = Directory.CreateTempSubdirectory("torchbert-interrupt-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void Ctrl_c_during_train_keeps_the_last_complete_checkpoint_and_exits_130()
    {
        var rows = string.Concat(Enumerable.Range(0, 16).Select(i => i % 2 == 0 ? $"a fun puzzle game {i},games\n" : $"an email client {i},mail\n"));
        var data = Path.Combine(root, "train.csv");
        File.WriteAllText(data, "text,label\n" + rows);
        var output = Path.Combine(root, "run");
        string[] train = ["train", "--task", "text-classification", "--model", Fixtures.Dir("tiny-bert-mlm"), "--train", data, "--eval", data,
            "--output", output, "--per-device-train-batch-size", "4", "--learning-rate", "1e-3", "--logging-steps", "5",
            "--eval-strategy", "steps", "--eval-steps", "5", "--save-steps", "5", "--save-total-limit", "2"];
        using (var run = CliRunner.Start(null, Path.Combine(root, "weights"), root, [.. train, "--max-steps", "1000000"]))
        {
            run.WaitUntil(() => Directory.Exists(Path.Combine(output, "checkpoint-10")), Patience).Should().BeTrue(run.Stderr);
            run.Interrupt();
            var r = run.WaitForExit(Patience);
            r.ExitCode.Should().Be(130, r.ToString());

            var checkpoints = Directory.GetDirectories(output).Select(Path.GetFileName).ToList();
            checkpoints.Should().OnlyContain(d => d!.StartsWith("checkpoint-"), "no temporary folder is left: " + string.Join(", ", checkpoints));
            var last = checkpoints.OrderBy(d => int.Parse(d!["checkpoint-".Length..])).Last()!;
            foreach (var d in checkpoints)
                foreach (var file in new[] { "config.json", "model.safetensors", "optimizer.safetensors", "scheduler.json", "trainer_state.json" })
                    File.Exists(Path.Combine(output, d!, file)).Should().BeTrue($"{d}/{file} (a checkpoint is whole or absent)");
            File.Exists(Path.Combine(output, "model.safetensors")).Should().BeFalse("an interrupted run saves no final model");

            var lines = r.StderrLines.Select(l => l.TrimStart('\r')).ToList();
            lines.Should().Contain(l => l.StartsWith("torchbert: interrupted: training stopped at step ") &&
                                        l.EndsWith($"the last complete checkpoint is {Path.Combine(output, last)} (continue with --resume-from-checkpoint latest)"), r.ToString());
            // The progress line was ended: no message starts in the middle of a redrawn progress line.
            r.Stderr.Split('\n').Where(l => l.Contains("torchbert: ")).Should().OnlyContain(l => l.TrimStart('\r').StartsWith("torchbert: ") || l.StartsWith("saved ") || l.StartsWith("{"));
            // HF's log keys: eval_loss, never eval_eval_loss (the metrics already carry the prefix).
            r.Stderr.Should().Contain("(eval_loss ").And.NotContain("eval_eval_");
        }

        // The checkpoint left behind is complete: training resumes from it.
        var step = int.Parse(Directory.GetDirectories(output).Select(Path.GetFileName).Max(d => int.Parse(d!["checkpoint-".Length..])).ToString());
        var resumed = CliRunner.Run(Path.Combine(root, "weights"), root, [.. train, "--max-steps", (step + 1).ToString(), "--resume-from-checkpoint", "latest", "--quiet"]);
        resumed.ExitCode.Should().Be(0, resumed.ToString());
        resumed.Stderr.Should().Contain($"resumed from {Path.Combine(output, $"checkpoint-{step}")} at step {step}");
        var log = File.ReadAllLines(Path.Combine(output, "training_log.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        log.Should().Contain(e => e["eval_loss"] != null).And.NotContain(e => e["eval_eval_loss"] != null);
    }

    [Fact]
    public void Ctrl_c_in_a_pipeline_command_without_input_stops_prints_nothing_and_exits_130()
    {
        // Issue 21, gap 2: classify with texts on the command line ran to the end and exited 0 after "stopping...".
        // The signal is sent once libtorch is mapped: the handler is registered before the command's body runs, and
        // the model load and 4000 texts still lie ahead, so the run stops between blocks, before printing anything.
        var texts = Enumerable.Range(0, 4000).Select(i => $"a short text number {i} to classify").ToArray();
        using var run = CliRunner.Start(null, Path.Combine(root, "weights"), root,
            ["classify", "--model", TaskPipelineFixtures.Folder("tiny-bert-seqcls"), "--json", "--", .. texts]);
        run.WaitUntil(() => run.HasLoaded("libtorch"), Patience).Should().BeTrue(run.Stderr);
        run.Interrupt();
        var r = run.WaitForExit(Patience);
        r.ExitCode.Should().Be(130, r.ToString());
        r.StderrLines.Select(l => l.TrimStart('\r')).Should().Equal(
            ["torchbert: stopping at the next safe point (Ctrl-C again to quit at once)...", "torchbert: interrupted"], r.ToString());
        r.Stdout.Should().BeEmpty("an interrupted run prints no partial result");
    }

    [Fact]
    public void Ctrl_c_during_download_leaves_the_cache_intact_and_exits_130()
    {
        using var s = new HubSandbox();
        var environment = new Dictionary<string, string?>
        {
            ["HF_ENDPOINT"] = s.Hub.Endpoint.ToString(),
            ["HF_HUB_CACHE"] = s.Cache,
            ["HF_TOKEN"] = HubSandbox.Token,
            ["HF_HUB_OFFLINE"] = null,
        };
        var weights = Path.Combine(s.Root, "weights");
        var first = CliRunner.RunWithEnvironment(environment, weights, s.Root, "download", "org/tiny");
        first.ExitCode.Should().Be(0, first.ToString());
        var snapshot = first.Stdout.Trim();
        var before = Directory.GetFiles(snapshot).ToDictionary(f => Path.GetFileName(f), f => File.ReadAllBytes(f));

        // A new commit with other weights; its weights file stalls on the CDN after 1000 bytes, so Ctrl-C lands mid-file.
        var files = HubSandbox.TinyFiles();
        var weightsFile = (byte[])files["model.safetensors"].Clone();
        weightsFile[^1] ^= 0xFF;
        files["model.safetensors"] = weightsFile;
        s.Tiny.AddCommit(files);
        s.Hub.StallNextCdnBodyAfter = 1000;
        var blobs = Path.Combine(s.RepoDir("org/tiny"), "blobs");
        using (var run = CliRunner.Start(environment, weights, s.Root, "download", "org/tiny"))
        {
            run.WaitUntil(() => Directory.GetFiles(blobs, "*.incomplete").Length > 0, Patience).Should().BeTrue(run.Stderr);
            run.Interrupt();
            var r = run.WaitForExit(Patience);
            r.ExitCode.Should().Be(130, r.ToString());
            r.StderrLines.Should().Contain("torchbert: interrupted", r.ToString());
            r.Stdout.Should().BeEmpty();
        }
        Directory.GetFiles(s.Cache, "*.incomplete", SearchOption.AllDirectories).Should().BeEmpty("no partial blob is left");
        foreach (var (name, bytes) in before)
            File.ReadAllBytes(Path.Combine(snapshot, name!)).Should().Equal(bytes, $"the earlier snapshot's {name} is intact");
        ScanCacheDir.Problems(s.Cache).Should().BeEmpty();

        // The next run completes the download.
        var again = CliRunner.RunWithEnvironment(environment, weights, s.Root, "download", "org/tiny");
        again.ExitCode.Should().Be(0, again.ToString());
        File.ReadAllBytes(Path.Combine(again.Stdout.Trim(), "model.safetensors")).Should().Equal(weightsFile);
    }
}
