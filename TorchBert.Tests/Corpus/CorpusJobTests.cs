using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet.Serialization;
using TorchBert.Corpus;
using TorchBert.Loading;
using TorchBert.Pipelines;
using TorchBert.Tests.Cli;
using TorchBert.Tests.Pipelines;
using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Corpus;

/// <summary>The pipelines and a corpus shared by the corpus-job tests.</summary>
public sealed class CorpusJobFixture : IDisposable
{
    public CorpusJobFixture()
    {
        Root = Directory.CreateTempSubdirectory("torchbert-corpus-").FullName;
        MiniLMPath = DefaultModel.EnsureInstalled();
        MiniLM = SentenceEmbeddingPipeline.FromPretrained(MiniLMPath, new PipelineOptions { Device = CPU });
        Classify = TextClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls"), new PipelineOptions { Device = CPU });
        // The texts transformers.js embedded with the package's own all-MiniLM-L6-v2 ONNX (an independent oracle), then
        // varied sentences of different lengths, so chunks pad differently.
        Oracle = OracleVectors();
        var texts = Oracle.Keys.Concat(Enumerable.Range(0, 40).Select(i =>
            $"Record {i}: " + string.Join(' ', Enumerable.Repeat("the quick brown fox jumps over the lazy dog", 1 + i % 5)) + (i % 3 == 0 ? " Café, 東京!" : ""))).ToList();
        Texts = texts;
        Corpus = Path.Combine(Root, "corpus.jsonl");
        // ids: strings and integers (HF datasets writes either); a blank line is skipped.
        File.WriteAllLines(Corpus, texts.Select((t, i) => i == 7 ? "" + "\n" + JsonSerializer.Serialize(new { id = i, text = t })
                                                              : JsonSerializer.Serialize(new { id = $"doc-{i}", text = t, source = "test" })));
    }

    public string Root { get; }
    public string MiniLMPath { get; }
    public SentenceEmbeddingPipeline MiniLM { get; }
    public TextClassificationPipeline Classify { get; }
    public IReadOnlyList<string> Texts { get; }
    public string Corpus { get; }
    public Dictionary<string, float[]> Oracle { get; }

    public string NewDir(string name) => Directory.CreateDirectory(Path.Combine(Root, $"{name}-{Guid.NewGuid():N}")).FullName;

    private static Dictionary<string, float[]> OracleVectors()
    {
        var result = new Dictionary<string, float[]>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "transformersjs-oracle", "results.jsonl")))
        {
            var c = JsonNode.Parse(line)!.AsObject();
            if ((string?)c["model"] != "minilm") continue;
            var texts = c["inputs"] is JsonArray a ? a.Select(x => (string)x!).ToList() : [(string)c["inputs"]!];
            var dims = c["output"]!["dims"]!.AsArray().Select(d => (int)d!).ToArray();
            var data = c["output"]!["data"]!.AsArray().Select(x => (float)(double)x!).ToArray();
            for (int i = 0; i < texts.Count; i++) result[texts[i]] = data.AsSpan(i * dims[1], dims[1]).ToArray();
        }
        return result;
    }

    public void Dispose()
    {
        MiniLM.Dispose();
        Classify.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// Sharded corpus jobs (<see cref="CorpusJob"/>): the output for N = 1, 2, 3 shards is the same file by file, the values
/// are the pipeline's (and transformers.js' for the oracle texts), a real process killed with SIGKILL resumes where it
/// stopped, and bad inputs are one clear error naming the file and line.
/// </summary>
public sealed class CorpusJobTests(CorpusJobFixture f) : IClassFixture<CorpusJobFixture>
{
    private const int ChunkSize = 4;

    private static async Task RunShards(ICorpusTask task, string input, string output, int n)
    {
        for (int i = 0; i < n; i++)
            await CorpusJob.RunAsync(task, new CorpusJobOptions { Input = input, Output = output, Shard = new Shard(i, n), ChunkSize = ChunkSize, Model = "m" });
    }

    private static Dictionary<string, byte[]> Parts(string dir) =>
        Directory.GetFiles(dir, "part-*.parquet").ToDictionary(p => Path.GetFileName(p), File.ReadAllBytes);

    private static async Task<List<EmbeddingCorpusTask.EmbeddingRow>> ReadEmbeddings(string dir)
    {
        var rows = new List<EmbeddingCorpusTask.EmbeddingRow>();
        foreach (var file in Directory.GetFiles(dir, "part-*.parquet").Order(StringComparer.Ordinal))
            rows.AddRange((await ParquetSerializer.DeserializeAsync<EmbeddingCorpusTask.EmbeddingRow>(file)).Data);
        return rows;
    }

    [Fact]
    public async Task Embedding_output_is_the_same_for_1_2_and_3_shards_and_equals_the_pipeline()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(f.MiniLMPath, new PipelineOptions { Device = CPU }, new SentenceEmbeddingOptions { Normalize = true });
        var task = new EmbeddingCorpusTask(pipe);
        var dirs = new Dictionary<int, string>();
        foreach (var n in new[] { 1, 2, 3 })
        {
            dirs[n] = f.NewDir($"embed-{n}");
            await RunShards(task, f.Corpus, dirs[n], n);
            File.Exists(Path.Combine(dirs[n], CorpusJob.ShardFileName(new Shard(n - 1, n)))).Should().BeTrue();
        }

        var one = Parts(dirs[1]);
        one.Should().HaveCount((f.Texts.Count + ChunkSize - 1) / ChunkSize);
        foreach (var n in new[] { 2, 3 })
        {
            var other = Parts(dirs[n]);
            other.Keys.Should().BeEquivalentTo(one.Keys, $"N={n} writes the same chunks");
            foreach (var (name, bytes) in one) other[name].Should().Equal(bytes, $"{name} is byte-identical for N=1 and N={n}");
        }

        var rows = await ReadEmbeddings(dirs[3]);
        rows.Select(r => r.Index).Should().Equal(Enumerable.Range(0, f.Texts.Count).Select(i => (long)i), "every record once, in corpus order");
        rows.Select(r => r.Id).Should().Equal(f.Texts.Select((_, i) => i == 7 ? "7" : $"doc-{i}"));
        var expected = pipe.Run(f.Texts);
        for (int i = 0; i < rows.Count; i++)
            rows[i].Embedding.Should().Equal(expected[i], (a, b) => Math.Abs(a - b) <= 1e-6, $"record {i} equals the pipeline on the same text");
        foreach (var (text, vector) in f.Oracle)
        {
            var i = f.Texts.ToList().IndexOf(text);
            rows[i].Embedding.Should().Equal(vector, (a, b) => Math.Abs(a - b) <= 1e-5, $"'{text}' equals transformers.js' all-MiniLM-L6-v2 vector");
        }
    }

    [Fact]
    public async Task Classification_output_is_the_same_for_1_and_3_shards_and_equals_the_pipeline()
    {
        var task = new ClassificationCorpusTask(f.Classify);
        var a = f.NewDir("cls-1");
        var b = f.NewDir("cls-3");
        await RunShards(task, f.Corpus, a, 1);
        await RunShards(task, f.Corpus, b, 3);
        var one = Parts(a);
        foreach (var (name, bytes) in Parts(b)) bytes.Should().Equal(one[name], name);

        var rows = new List<ClassificationCorpusTask.ClassificationRow>();
        foreach (var file in Directory.GetFiles(b, "part-*.parquet").Order(StringComparer.Ordinal))
            rows.AddRange((await ParquetSerializer.DeserializeAsync<ClassificationCorpusTask.ClassificationRow>(file)).Data);
        var expected = f.Classify.Run(f.Texts, new TextClassificationParams { TopK = null });
        rows.Should().HaveCount(f.Texts.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            rows[i].Labels.Should().Equal(expected[i].Select(l => l.Label));
            rows[i].Scores.Should().Equal(expected[i].Select(l => l.Score), (x, y) => Math.Abs(x - y) <= 1e-6);
            rows[i].Label.Should().Be(expected[i][0].Label);
            rows[i].Score.Should().BeApproximately(expected[i][0].Score, 1e-6);
        }
    }

    /// <summary>
    /// <c>torchbert classify --input --output DIR/</c> as a process, against HF: the texts of tiny-bert-seqcls' recorded
    /// single-sequence rows 1 and 2 (their ids checked), and HF's recorded logits softmaxed (3 labels, no problem_type:
    /// HF's default function) and sorted. Without --top-k every label is written; --top-k 2 keeps the 2 best, as the
    /// normal command; the top-k is one of the job's settings; --json does not apply and is refused.
    /// </summary>
    [Fact]
    public async Task The_classify_cli_in_corpus_mode_writes_hfs_softmaxed_logits_and_honours_top_k()
    {
        string[] texts = ["ー [MASK] 白 ᄆ ᵉ", "љ ר"];
        var hf = Fixtures.Expected("tiny-bert-seqcls");
        var ids = hf["input_ids"].data<long>().ToArray();
        var logits = hf["logits"].data<float>().ToArray();
        string[] labels = ["negative", "neutral", "positive"];
        var oracle = new List<(string Label, double Score)[]>();
        for (int t = 0; t < 2; t++)
        {
            var row = t + 1;
            f.Classify.Tokenizer.Encode(texts[t]).InputIds.Should().Equal(ids.Skip(row * 11).Take(11).TakeWhile(i => i != 0), $"'{texts[t]}' is recorded row {row}");
            var z = logits.Skip(row * 3).Take(3).Select(x => (double)x).ToArray();
            var e = z.Select(x => Math.Exp(x - z.Max())).ToArray();
            oracle.Add(e.Select((x, i) => (labels[i], x / e.Sum())).OrderByDescending(x => x.Item2).ToArray());
        }

        var work = f.NewDir("classify-cli");
        var input = Path.Combine(work, "corpus.jsonl");
        var order = new[] { 0, 1, 1, 0, 1 };
        File.WriteAllLines(input, order.Select((t, i) => JsonSerializer.Serialize(new { id = $"r{i}", text = texts[t] })));
        var model = TaskPipelineFixtures.Folder("tiny-bert-seqcls");
        var weights = Path.Combine(f.Root, "weights");

        async Task<List<ClassificationCorpusTask.ClassificationRow>> Run(string name, int shards, params string[] flags)
        {
            for (int i = 0; i < shards; i++)
            {
                var r = CliRunner.Run(weights, work, ["classify", "--model", model, "--input", input, "--output", name + "/", "--shard", $"{i}/{shards}", "--chunk-size", "2", .. flags]);
                r.ExitCode.Should().Be(0, r.ToString());
            }
            var rows = new List<ClassificationCorpusTask.ClassificationRow>();
            foreach (var file in Directory.GetFiles(Path.Combine(work, name), "part-*.parquet").Order(StringComparer.Ordinal))
                rows.AddRange((await ParquetSerializer.DeserializeAsync<ClassificationCorpusTask.ClassificationRow>(file)).Data);
            rows.Select(r => r.Id).Should().Equal(order.Select((_, i) => $"r{i}"));
            return rows;
        }

        void ShouldMatch(List<ClassificationCorpusTask.ClassificationRow> rows, int k, string because)
        {
            for (int i = 0; i < rows.Count; i++)
            {
                var expected = oracle[order[i]];
                rows[i].Label.Should().Be(expected[0].Label, because);
                rows[i].Score.Should().BeApproximately(expected[0].Score, 1e-5, because);
                rows[i].Labels.Should().Equal(expected.Take(k).Select(x => x.Label), because);
                rows[i].Scores.Should().Equal(expected.Take(k).Select(x => x.Score), (a, b) => Math.Abs(a - b) <= 1e-5, because);
            }
        }

        ShouldMatch(await Run("all", 2), 3, "no --top-k: every label (2 shards)");
        ShouldMatch(await Run("top-all", 1, "--top-k", "all"), 3, "--top-k all");
        ShouldMatch(await Run("top-2", 1, "--top-k", "2"), 2, "--top-k 2");

        var normal = CliRunner.Run(weights, work, "classify", "--model", model, "--json", "--top-k", "2", texts[1]);
        normal.ExitCode.Should().Be(0, normal.ToString());
        JsonNode.Parse(normal.Stdout)!.AsArray().Select(d => (string)d!["label"]!).Should().Equal(oracle[1].Take(2).Select(x => x.Label), "the normal command's --top-k 2");

        var changed = CliRunner.Run(weights, work, "classify", "--model", model, "--input", input, "--output", "top-2/", "--chunk-size", "2", "--top-k", "1");
        changed.ExitCode.Should().Be(1, changed.ToString());
        changed.Stderr.Should().Contain("another job").And.Contain("top-k\":\"1\"", "the top-k is one of the job's settings (the CLI names it as the option)");

        var badK = CliRunner.Run(weights, work, "classify", "--model", model, "--input", input, "--output", "bad/", "--top-k", "0");
        badK.ExitCode.Should().Be(2, badK.ToString());
        badK.Stderr.Should().Contain("--top-k must be a number >= 1 or 'all', got '0'");
        var json = CliRunner.Run(weights, work, "classify", "--model", model, "--input", input, "--output", "json/", "--json");
        json.ExitCode.Should().Be(2, json.ToString());
        json.StderrLines.Should().ContainSingle().Which.Should().StartWith("torchbert: error: --json does not apply to a corpus job");
        Directory.Exists(Path.Combine(work, "bad")).Should().BeFalse();
        Directory.Exists(Path.Combine(work, "json")).Should().BeFalse();
    }

    [Fact]
    public async Task A_process_killed_mid_run_resumes_skipping_finished_chunks_and_ends_with_the_uninterrupted_output()
    {
        // A longer corpus so the run takes many chunks; the real CLI, killed with SIGKILL after its second chunk.
        var corpus = Path.Combine(f.Root, "long.jsonl");
        File.WriteAllLines(corpus, Enumerable.Range(0, 160).Select(i => JsonSerializer.Serialize(new { id = $"r{i}", text = $"{i}: " + f.Texts[i % 5] })));
        var args = new[] { "embed", "--model", f.MiniLMPath, "--input", corpus, "--chunk-size", "4", "--shard", "0/1", "--output" };
        var work = f.NewDir("work");

        var reference = f.NewDir("uninterrupted");
        var full = CliRunner.Run(Path.Combine(f.Root, "weights"), work, [.. args, reference + "/"]);
        full.ExitCode.Should().Be(0, full.ToString());
        var expected = Parts(reference);
        expected.Should().HaveCount(40);

        var killed = f.NewDir("killed");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = work,
        };
        start.ArgumentList.Add(CliRunner.DllPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.ArgumentList.Add(killed + "/");
        start.Environment["TORCHBERT_WEIGHTS"] = Path.Combine(f.Root, "weights");
        using (var process = Process.Start(start)!)
        {
            _ = process.StandardOutput.ReadToEndAsync();
            int written = 0;
            string? line;
            while ((line = await process.StandardError.ReadLineAsync()) is not null)
                if (line.Contains(" written (") && ++written == 2) break;
            written.Should().Be(2, "the run reports each chunk it writes");
            process.Kill(entireProcessTree: false);                    // SIGKILL on Unix
            (await Task.WhenAny(process.WaitForExitAsync(), Task.Delay(TimeSpan.FromMinutes(1)))).Should().NotBeNull();
            process.HasExited.Should().BeTrue();
            process.ExitCode.Should().Be(137, "killed by SIGKILL (128 + 9)");
        }
        var survivors = Parts(killed);
        survivors.Count.Should().BeInRange(2, expected.Count - 1, "the process was killed in the middle");
        foreach (var (name, bytes) in survivors) bytes.Should().Equal(expected[name], $"{name} was written whole before the kill");

        var rerun = CliRunner.Run(Path.Combine(f.Root, "weights"), work, [.. args, killed + "/"]);
        rerun.ExitCode.Should().Be(0, rerun.ToString());
        rerun.StderrLines.Count(l => l.Contains("already written, skipped")).Should().Be(survivors.Count, rerun.ToString());
        rerun.StderrLines.Count(l => l.Contains(" written (")).Should().Be(expected.Count - survivors.Count, rerun.ToString());
        var final = Parts(killed);
        final.Keys.Should().BeEquivalentTo(expected.Keys);
        foreach (var (name, bytes) in expected) final[name].Should().Equal(bytes, $"{name} equals the uninterrupted run's");
        Directory.GetFiles(killed, "*.tmp", SearchOption.AllDirectories).Should().BeEmpty("stale temporaries of the killed run are removed");
    }

    [Fact]
    public async Task A_rerun_with_a_different_job_into_the_same_folder_is_refused()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(f.MiniLMPath, new PipelineOptions { Device = CPU }, new SentenceEmbeddingOptions { Normalize = true });
        var dir = f.NewDir("spec");
        var input = Path.Combine(f.Root, "small.jsonl");
        File.WriteAllText(input, "{\"id\":\"a\",\"text\":\"one\"}\n{\"id\":\"b\",\"text\":\"two\"}\n");
        await CorpusJob.RunAsync(new EmbeddingCorpusTask(pipe), new CorpusJobOptions { Input = input, Output = dir, ChunkSize = 1 });
        var act = () => CorpusJob.RunAsync(new EmbeddingCorpusTask(pipe), new CorpusJobOptions { Input = input, Output = dir, ChunkSize = 2 });
        (await act.Should().ThrowAsync<CorpusJobException>()).Which.Message.Should().Contain("another job").And.Contain("chunk_size: 1 there, 2 now");
        using var cls = new FileStream(input, FileMode.Append);
        cls.Write("{\"id\":\"c\",\"text\":\"three\"}\n"u8);
        cls.Dispose();
        var changed = () => CorpusJob.RunAsync(new EmbeddingCorpusTask(pipe), new CorpusJobOptions { Input = input, Output = dir, ChunkSize = 1 });
        (await changed.Should().ThrowAsync<CorpusJobException>()).Which.Message.Should().Contain("input_sha256");
    }

    [Theory]
    [InlineData("{\"id\":\"a\",\"text\":\"fine\"}\nnot json\n", "bad.jsonl:2: not valid JSON")]
    [InlineData("{\"id\":\"a\",\"text\":\"fine\"}\n\n{\"text\":\"no id\"}\n", "bad.jsonl:3: missing \"id\"")]
    [InlineData("{\"id\":\"a\"}\n", "bad.jsonl:1: missing \"text\"")]
    [InlineData("{\"id\":1.5,\"text\":\"x\"}\n", "bad.jsonl:1: \"id\" must be a string or an integer, got 1.5")]
    [InlineData("{\"id\":\"a\",\"text\":7}\n", "bad.jsonl:1: \"text\" must be a string, got a JSON number")]
    [InlineData("[\"a\",\"b\"]\n", "bad.jsonl:1: expected a JSON object")]
    [InlineData("{\"id\":\"\",\"text\":\"x\"}\n", "bad.jsonl:1: \"id\" is empty")]
    [InlineData("\n  \n", "bad.jsonl: no records")]
    public async Task Bad_corpus_lines_name_the_file_and_line_and_write_nothing(string content, string message)
    {
        var dir = f.NewDir("bad");
        var input = Path.Combine(dir, "bad.jsonl");
        File.WriteAllText(input, content);
        var output = Path.Combine(dir, "out");
        var act = () => CorpusJob.RunAsync(new EmbeddingCorpusTask(f.MiniLM), new CorpusJobOptions { Input = input, Output = output, Shard = new Shard(1, 2) });
        (await act.Should().ThrowAsync<CorpusJobException>()).Which.Message.Should().Contain(message);
        Directory.Exists(output).Should().BeFalse("the corpus is validated before anything is written");
    }

    [Fact]
    public async Task Missing_input_and_an_output_that_is_a_file_are_clear_errors()
    {
        var dir = f.NewDir("io");
        var missing = () => CorpusJob.RunAsync(new EmbeddingCorpusTask(f.MiniLM), new CorpusJobOptions { Input = Path.Combine(dir, "nope.jsonl"), Output = dir });
        (await missing.Should().ThrowAsync<CorpusJobException>()).Which.Message.Should().Contain("nope.jsonl: input file not found");
        var file = Path.Combine(dir, "out.txt");
        File.WriteAllText(file, "x");
        var onFile = () => CorpusJob.RunAsync(new EmbeddingCorpusTask(f.MiniLM), new CorpusJobOptions { Input = f.Corpus, Output = file });
        (await onFile.Should().ThrowAsync<CorpusJobException>()).Which.Message.Should().Contain("out.txt: is a file");
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    public void Shard_specs_parse(string spec, int index, int count) => Shard.Parse(spec).Should().Be(new Shard(index, count));

    [Theory]
    [InlineData("3/3", "must be < the count")]
    [InlineData("1/0", "count must be >= 1")]
    [InlineData("-1/2", "must be I/N")]
    [InlineData("1", "must be I/N")]
    [InlineData("a/b", "must be I/N")]
    public void Bad_shard_specs_say_what_is_wrong(string spec, string message) =>
        FluentActions.Invoking(() => Shard.Parse(spec)).Should().Throw<ArgumentException>().WithMessage($"*{message}*");

    [Fact]
    public void The_shard_comes_from_the_indexed_job_environment()
    {
        Shard? FromEnv(string? index, string? count) => Shard.FromEnvironment(k => k switch
        {
            Shard.IndexVariable => index,
            Shard.CountVariable => count,
            _ => null,
        });
        FromEnv(null, null).Should().BeNull();
        FromEnv("2", "5").Should().Be(new Shard(2, 5));
        FluentActions.Invoking(() => FromEnv("2", null)).Should().Throw<ArgumentException>().WithMessage("*JOB_COMPLETIONS is not*");
        FluentActions.Invoking(() => FromEnv("5", "5")).Should().Throw<ArgumentException>().WithMessage("*must be < the count*");
        FluentActions.Invoking(() => FromEnv("x", "5")).Should().Throw<ArgumentException>().WithMessage("*JOB_COMPLETION_INDEX must be an integer*");
    }

    [Fact]
    public void Chunks_are_owned_round_robin_so_every_chunk_has_exactly_one_shard()
    {
        foreach (var n in new[] { 1, 2, 3, 7 })
            for (long c = 0; c < 50; c++)
                Enumerable.Range(0, n).Count(i => new Shard(i, n).Owns(c)).Should().Be(1);
    }

    [Fact]
    public void The_cli_reads_the_shard_from_JOB_COMPLETION_INDEX_and_reports_usage_errors()
    {
        var work = f.NewDir("cli");
        var input = Path.Combine(work, "c.jsonl");
        File.WriteAllText(input, string.Join('\n', Enumerable.Range(0, 5).Select(i => $"{{\"id\":\"{i}\",\"text\":\"sentence {i}\"}}")));
        var env = new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = "1", ["JOB_COMPLETIONS"] = "2" };
        var weights = Path.Combine(f.Root, "weights");
        var r = CliRunner.RunWithEnvironment(env, weights, work, "embed", "--model", f.MiniLMPath, "--input", input, "--output", "out/", "--chunk-size", "2");
        r.ExitCode.Should().Be(0, r.ToString());
        Directory.GetFiles(Path.Combine(work, "out"), "part-*.parquet").Select(Path.GetFileName).Should().BeEquivalentTo(["part-000001.parquet"], "shard 1/2 of 3 chunks owns chunk 1");
        r.Stderr.Should().Contain("shard 1/2: done");

        var bad = CliRunner.RunWithEnvironment(env, weights, work, "embed", "--model", f.MiniLMPath, "--input", input, "--output", "out2/", "--shard", "2/2");
        bad.ExitCode.Should().Be(2, bad.ToString());
        bad.Stderr.Trim().Should().Be("torchbert: error: shard index must be < the count (0-based), got '2/2'");

        var noInput = CliRunner.Run(weights, work, "embed", "--model", f.MiniLMPath, "--output", "out3/");
        noInput.ExitCode.Should().Be(2, noInput.ToString());
        noInput.Stderr.Should().Contain("needs --input");
    }
}
