using System.Text.Json;
using System.Text.Json.Nodes;
using TorchBert.Tests.Pipelines;
using TorchBert.Tests.Support;

namespace TorchBert.Tests.Cli;

/// <summary>
/// The CLI as a new user meets it (issue 21): unknown options are errors on every command, one shared option set for
/// every model-running command, one rule for empty texts, outputs checked before any work, messages without .NET
/// internals, and --help that lists what the CLI does.
/// </summary>
public sealed class CliUsageTests(CliFixture f) : IClassFixture<CliFixture>
{
    private static readonly string Mlm = Fixtures.Dir("tiny-bert-mlm");
    private static readonly string SeqCls = TaskPipelineFixtures.Folder("tiny-bert-seqcls");
    private static readonly string Qa = Fixtures.Dir("tiny-bert-qa");

    /// <summary>The commands that run a model on texts and share one option set.</summary>
    private static readonly string[] ModelRunning = ["fill-mask", "embed", "similarity", "classify", "ner", "qa", "zero-shot"];

    private static readonly string[] SharedOptions =
        ["--model", "--revision", "--dtype", "--device", "--truncation", "--no-truncation", "--max-length", "--json", "--input", "--output"];

    private CliResult Ok(params string[] args)
    {
        var r = f.Run(args);
        r.ExitCode.Should().Be(0, r.ToString());
        r.Stderr.Should().NotContain("torchbert: error", r.ToString());
        return r;
    }

    /// <summary>Exit code <paramref name="code"/>, exactly one stderr line "torchbert: error: ..." matching the pattern, nothing on stdout.</summary>
    private CliResult Fails(int code, string pattern, params string[] args)
    {
        var r = f.Run(args);
        r.ExitCode.Should().Be(code, r.ToString());
        r.StderrLines.Should().ContainSingle(r.ToString()).Which.Should().Match("torchbert: error: " + pattern, r.ToString());
        r.Stderr.Should().NotContainAny(["   at ", "Exception", "(Parameter '", "System."], "no .NET internals");
        r.Stdout.Should().BeEmpty();
        return r;
    }

    /// <summary>The command names under "Commands:" in a --help text.</summary>
    private static List<string> CommandsIn(string help) =>
        help.Split('\n').SkipWhile(l => !l.StartsWith("Commands:", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal))
            .Select(l => l.Trim().Split(' ')[0]).Where(n => n.Length > 0).ToList();

    /// <summary>Every leaf command ("plot attention", "cache rm", ...), read from the CLI's own --help.</summary>
    private List<string[]> LeafCommands()
    {
        var leaves = new List<string[]>();
        foreach (var name in CommandsIn(Ok("--help").Stdout))
        {
            var sub = CommandsIn(Ok(name, "--help").Stdout);
            if (sub.Count == 0) leaves.Add([name]);
            else leaves.AddRange(sub.Select(s => new[] { name, s }));
        }
        return leaves;
    }

    [Fact]
    public void An_unknown_option_is_an_error_on_every_command_never_input_text()
    {
        var leaves = LeafCommands();
        leaves.Select(l => string.Join(' ', l)).Should().Contain(["classify", "embed", "similarity", "tokenize", "plot similarity", "fill-mask", "ner", "zero-shot", "qa"]);
        foreach (var command in leaves)
        {
            var r = f.Run([.. command, "--bogus-option", "some text"]);
            r.ExitCode.Should().Be(2, r.ToString());
            r.StderrLines.Should().ContainSingle(r.ToString()).Which.Should().StartWith("torchbert: error: ").And.Contain("'--bogus-option'")
                .And.Contain($"(see 'torchbert {string.Join(' ', command)} --help'");
            r.Stdout.Should().BeEmpty();
        }
        // The cases from the issue: a mistyped option with its value, and a single-dash one.
        Fails(2, "unknown option '--topk' (see 'torchbert classify --help'; a text that starts with '-' goes after --)", "classify", "--model", SeqCls, "--topk", "3", "x");
        Fails(2, "unknown option '--metrc'*", "plot", "similarity", "--json", "--metrc", "dot", "hello world");
        Fails(2, "unknown option '-n'*", "embed", "-n", "hello");
    }

    [Fact]
    public void Double_dash_ends_the_options_so_texts_may_start_with_a_dash()
    {
        // bert-base-uncased's WordPiece: "--bogus" → '-', '-', 'bog', '##us' (the tokenizer oracle splits punctuation).
        var json = JsonNode.Parse(Ok("tokenize", "--json", "--", "--bogus").Stdout)!;
        json["tokens"]!.AsArray().Select(t => t!.GetValue<string>()).Should().Equal("[CLS]", "-", "-", "bog", "##us", "[SEP]");
        var vectors = JsonSerializer.Deserialize<float[][]>(Ok("embed", "--json", "--", "-5 degrees", "--x").Stdout)!;
        vectors.Should().HaveCount(2);
        // A negative number is a value, not an option.
        Ok("tokenize", "--json", "-5");
    }

    [Fact]
    public void Every_model_running_command_has_the_shared_options()
    {
        foreach (var command in ModelRunning)
        {
            var help = Ok(command, "--help").Stdout;
            foreach (var option in SharedOptions)
                help.Should().Contain($"  {option}", $"'{command} --help' lists {option}");
        }
        // qa takes them for real: the same answer with --dtype float32 --revision main --device cpu --max-length 64 --truncation.
        string[] ask = ["qa", "--model", Qa, "--question", "Where does Sarah live?", "--context", "My name is Sarah and I live in London.", "--json"];
        var plain = JsonNode.Parse(Ok(ask).Stdout)!;
        var shared = JsonNode.Parse(Ok([.. ask, "--dtype", "float32", "--revision", "main", "--device", "cpu", "--max-length", "64", "--truncation"]).Stdout)!;
        shared.ToJsonString().Should().Be(plain.ToJsonString());
        // --dtype's help and error list exactly what the one parser accepts: torch's names and aliases (float32 = float,
        // float16 = half, float64 = double) and HF's short names; float64 is accepted, so it is listed, and it runs.
        const string dtypes = "float32|fp32|float, float16|fp16|half, bfloat16|bf16, float64|fp64|double";
        foreach (var command in new[] { "qa", "forward", "convert" })
            string.Join(" ", Ok(command, "--help").Stdout.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries))
                .Should().Contain(dtypes, $"'{command} --help' lists the accepted dtypes");
        var f64 = JsonNode.Parse(Ok([.. ask, "--dtype", "double"]).Stdout)!;
        f64["answer"]!.GetValue<string>().Should().Be(plain["answer"]!.GetValue<string>());
        f64["score"]!.GetValue<double>().Should().BeApproximately(plain["score"]!.GetValue<double>(), 1e-4);
        Fails(2, "--dtype must be one of float32|fp32|float, float16|fp16|half, bfloat16|bf16, float64|fp64|double, got 'int4'", [.. ask, "--dtype", "int4"]);
        Fails(2, "--device must be cpu, cuda or cuda:N, got 'tpu'", [.. ask, "--device", "tpu"]);
    }

    [Fact]
    public void Empty_texts_are_one_usage_error_naming_the_position_on_every_command()
    {
        Fails(2, "the text is empty", "embed", "");
        Fails(2, "text 2 of 2 is empty", "embed", "fine", "  ");
        Fails(2, "text 1 of 2 is empty", "classify", "--model", SeqCls, "", "x");
        Fails(2, "the text is empty", "plot", "similarity", "--json", " ");
        Fails(2, "the --context is empty", "qa", "--model", Qa, "--question", "Who?", "--context", "   ");
        Fails(2, "the text is empty", "tokenize", "\t");
        Fails(2, "text 2 of 2 is empty", "fill-mask", "--model", Mlm, "a [MASK]", "");
        Fails(2, "text 1 of 2 is empty", "similarity", "", "x");
    }

    [Fact]
    public void Similarity_needs_two_texts()
    {
        Fails(2, "similarity needs at least two texts to compare, got 1", "similarity", "one");
    }

    [Fact]
    public void Usage_hints_name_the_real_command_path()
    {
        Fails(2, "*(see 'torchbert plot attention --help')", "plot", "attention", "hello");
        Fails(2, "*(see 'torchbert cache rm --help')", "cache", "rm");
    }

    [Fact]
    public void Root_help_lists_every_command_and_each_is_documented()
    {
        var help = Ok("--help").Stdout;
        var commands = CommandsIn(help);
        commands.Should().Contain(["fill-mask", "embed", "similarity", "tokenize", "inspect", "forward", "convert", "train", "evaluate", "plot",
            "download", "cache", "classify", "ner", "qa", "zero-shot"]);
        var docs = string.Concat(Directory.GetFiles(Path.Combine(RepoPaths.Root(), "docs"), "*.md").Select(File.ReadAllText));
        foreach (var c in commands) docs.Should().Contain($"torchbert {c}", $"docs/ documents '{c}'");
        help.Should().MatchRegex(@"tokenize <text> <pair> +HF tokenizer output .*\(PAIR is optional\)", "the pair is optional");
        Ok("tokenize", "--help").Stdout.Should().Contain("tokenize <text> [<pair>]", "the pair is optional");
    }

    [Fact]
    public void An_output_in_a_missing_folder_is_named_before_any_work()
    {
        var missing = Path.Combine(f.Work, "no-such-folder");
        Fails(2, $"--output {missing}/out.jsonl: the folder {missing} does not exist", "classify", "--model", SeqCls, "--output", Path.Combine(missing, "out.jsonl"), "x");
        Fails(2, $"--output {missing}/o.safetensors: the folder {missing} does not exist",
            "forward", "--model", Mlm, "--input", Path.Combine(f.Work, "ragged.json"), "--output", Path.Combine(missing, "o.safetensors"));
        Fails(2, $"--out {missing}/p.png: the folder {missing} does not exist", "plot", "positions", "--out", Path.Combine(missing, "p.png"));
        Directory.Exists(missing).Should().BeFalse();
    }

    [Fact]
    public void Convert_onto_a_file_fails_before_converting()
    {
        var file = Path.Combine(f.Work, "a-file.txt");
        File.WriteAllText(file, "keep");
        var r = Fails(2, $"{file} is a file; convert writes a folder*", "convert", Mlm, file);
        r.Stderr.Should().NotContain("writing", "nothing was converted");
        File.ReadAllText(file).Should().Be("keep");
    }

    [Fact]
    public void An_unwritable_weights_folder_names_TORCHBERT_WEIGHTS()
    {
        var file = Path.Combine(f.Work, "weights-is-a-file");
        File.WriteAllText(file, "x");
        var weights = Path.Combine(file, "weights");
        var r = CliRunner.Run(weights, f.Work, "embed", "hello");
        r.ExitCode.Should().Be(1, r.ToString());
        r.StderrLines.Should().ContainSingle(r.ToString()).Which.Should().StartWith($"torchbert: error: cannot import the default model all-MiniLM-L6-v2 into TORCHBERT_WEIGHTS={weights}");
    }

    [Fact]
    public void Invalid_utf8_in_an_input_file_names_the_file_and_line()
    {
        var file = Path.Combine(f.Work, "latin1.jsonl");
        File.WriteAllBytes(file, [.. "\"fine\"\n"u8, .. "\"caf"u8, 0xE9, .. "\"\n"u8]);
        Fails(1, $"{file}:2: not valid UTF-8 text*", "classify", "--model", SeqCls, "--input", file);
        var empty = Path.Combine(f.Work, "empty-text.jsonl");
        File.WriteAllText(empty, "\"fine\"\n\"\"\n");
        Fails(1, $"{empty}:2: the text is empty", "classify", "--model", SeqCls, "--input", empty);
    }

    [Fact]
    public void Plot_and_forward_take_the_shared_revision_dtype_and_device_options()
    {
        // Issue 21, gap 7: plot had no --revision/--dtype/--device, forward no --device. They are the shared definitions
        // (CommonOptions): listed in --help, the same numbers with the defaults spelled out, and --dtype really applied.
        string[][] plots =
        [
            ["plot", "similarity", "the cat sat", "--model", Mlm, "--json"],
            ["plot", "attention", "the cat sat", "--layer", "0", "--head", "0", "--model", Mlm, "--json"],
            ["plot", "positions", "--first", "6", "--model", Mlm, "--json"],
        ];
        string[] defaults = ["--revision", "main", "--dtype", "float32", "--device", "cpu"];
        foreach (var plot in plots)
        {
            var help = Ok(plot[0], plot[1], "--help").Stdout;
            foreach (var option in new[] { "--model", "--revision", "--dtype", "--device" })
                help.Should().Contain($"  {option}", $"'plot {plot[1]} --help' lists {option}");
            help.Should().Contain("Hub id");
            Ok([.. plot, .. defaults]).Stdout.Should().Be(Ok(plot).Stdout, $"plot {plot[1]} with the default values spelled out");
        }
        var fp32 = JsonNode.Parse(Ok(plots[2]).Stdout)!["values"]!.AsArray().SelectMany(r => r!.AsArray()).Select(v => v!.GetValue<double>()).ToList();
        var bf16Run = Ok([.. plots[2], "--dtype", "bf16"]);
        var bf16 = JsonNode.Parse(bf16Run.Stdout)!["values"]!.AsArray().SelectMany(r => r!.AsArray()).Select(v => v!.GetValue<double>()).ToList();
        bf16.Should().NotEqual(fp32, "bfloat16 weights give other cosines");
        bf16.Zip(fp32, (a, b) => Math.Abs(a - b)).Max().Should().BeLessThan(0.02, "bfloat16 keeps ~3 significant digits");
        bf16Run.StderrLines.Count(l => l.StartsWith("torchbert: warning: bfloat16 on this CPU will be slower than float32"))
            .Should().Be(CpuFeatures.NativeBf16 == false ? 1 : 0, bf16Run.ToString());
        Fails(2, "--device must be cpu, cuda or cuda:N, got 'tpu'", [.. plots[2], "--device", "tpu"]);
        Fails(2, "--dtype must be one of float32|fp32|float, float16|fp16|half, bfloat16|bf16, float64|fp64|double, got 'int4'", [.. plots[0], "--dtype", "int4"]);

        Ok("forward", "--help").Stdout.Should().Contain("  --device");
        var input = Path.Combine(f.Work, "forward-shared.json");
        File.WriteAllText(input, "{\"input_ids\": [[101, 1996, 4937, 2938, 102]]}");
        string Forward(params string[] extra)
        {
            var output = Path.Combine(f.Work, $"forward-shared-{extra.Length}.safetensors");
            Ok(["forward", "--model", Mlm, "--input", input, "--output", output, .. extra]);
            return Convert.ToBase64String(File.ReadAllBytes(output));
        }
        Forward(defaults).Should().Be(Forward(), "forward with the default values spelled out writes the same file");
        Fails(2, "--device must be cpu, cuda or cuda:N, got 'tpu'", "forward", "--model", Mlm, "--input", input, "--output", Path.Combine(f.Work, "never.safetensors"), "--device", "tpu");
    }

    [Fact]
    public void Invalid_utf8_in_a_forward_input_names_the_file_and_line_and_writes_nothing()
    {
        // Issue 21, gap 6: File.ReadAllText replaced the byte with U+FFFD; the one strict reader (Utf8TextFile) names it.
        var file = Path.Combine(f.Work, "latin1-forward.json");
        File.WriteAllBytes(file, [.. "{\"input_ids\": [[101, 102]],\n"u8, .. "\"caf"u8, 0xE9, .. "\": 1}\n"u8]);
        var output = Path.Combine(f.Work, "never-latin1.safetensors");
        Fails(1, $"{file}:2: not valid UTF-8 text, byte 5 (save the file as UTF-8)", "forward", "--model", Mlm, "--input", file, "--output", output);
        File.Exists(output).Should().BeFalse();
    }

    [Fact]
    public void Library_parameter_names_are_reported_as_the_cli_options()
    {
        Fails(2, "--top-k must be >= 1, got 0", "fill-mask", "--model", Mlm, "--top-k", "0", "a [MASK]");
        Fails(2, "--max-seq-len must be >= 4, got 2", "qa", "--model", Qa, "--question", "Who?", "--context", "Sarah.", "--max-seq-len", "2");
    }

    [Fact]
    public void A_config_that_does_not_fit_its_checkpoint_is_a_short_summary_with_the_likely_cause()
    {
        var dir = Directory.CreateDirectory(Path.Combine(f.Work, "wrong-config")).FullName;
        foreach (var file in Directory.GetFiles(Mlm)) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        var hidden = config["hidden_size"]!.GetValue<int>();
        config["hidden_size"] = 768;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        var r = Fails(1, $"{dir}*cannot load into BertForMaskedLM*", "inspect", "--model", dir);
        var line = r.StderrLines.Single();
        line.Length.Should().BeLessThan(1200, "a summary, not every key");
        line.Should().Contain($"likely cause: config.json does not describe these weights (hidden_size 768 in config.json vs {hidden} in the checkpoint)");
        line.Should().MatchRegex(@"\d+ key\(s\) with another shape in the checkpoint: key '[^']+': checkpoint shape \[\d+(, \d+)*\], model shape");
        line.Should().Contain("more)");
    }

    [Fact]
    public void Embed_max_length_is_honoured_up_to_the_models_512_positions()
    {
        // One word piece per word (bert-base-uncased vocabulary): n words are n + 2 tokens with [CLS] and [SEP].
        string[] pool = ["the", "cat", "sat", "on", "mat", "and", "dog", "ran", "far", "away"];
        string Words(int n) => string.Join(' ', Enumerable.Range(0, n).Select(i => pool[i % pool.Length]));
        float[] Embed(params string[] args) => JsonSerializer.Deserialize<float[][]>(Ok(["embed", "--json", .. args]).Stdout)!.Single();
        var text = Words(700);

        // Default: sentence_bert_config.json's max_seq_length 256, as sentence-transformers.
        var byDefault = Embed(text);
        byDefault.Should().BeEquivalentTo(Embed(Words(254)), o => o.WithStrictOrdering().Using<float>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-6f)).WhenTypeIs<float>());
        // An explicit --max-length overrides that default up to the model's limit.
        foreach (var max in new[] { 300, 512 })
        {
            var cut = Embed("--max-length", max.ToString(), text);
            cut.Should().BeEquivalentTo(Embed("--max-length", max.ToString(), Words(max - 2)),
                o => o.WithStrictOrdering().Using<float>(c => c.Subject.Should().BeApproximately(c.Expectation, 1e-6f)).WhenTypeIs<float>(), $"--max-length {max} keeps {max} tokens");
            TorchBert.Pipelines.Similarity.Cosine(cut, byDefault).Should().BeLessThan(0.999999f, $"--max-length {max} is not capped at 256");
        }
        Fails(2, "--max-length 600 is longer than the model allows: 512 tokens (max_position_embeddings)", "embed", "--max-length", "600", "x");
    }

    [Fact]
    public void Evaluate_refuses_a_model_whose_head_is_newly_initialised()
    {
        var data = Path.Combine(f.Work, "eval.csv");
        File.WriteAllText(data, "text,label\na fun game,games\nan email client,mail\n");
        Fails(1, $"{Mlm}* has no sequence-classification head (bert.pooler.*, classifier.* were not in the checkpoint): its metrics would measure random weights*",
            "evaluate", "--model", Mlm, "--data", data, "--task", "text-classification");
    }

    [Fact]
    public void Training_data_errors_are_one_line_naming_file_and_line_with_no_empty_line_before()
    {
        var csv = Path.Combine(f.Work, "empty-label.csv");
        File.WriteAllText(csv, "text,label\nfoo,games\nbar,\n");
        var r = Fails(1, $"{csv}:3: the label is empty", "train", "--task", "text-classification", "--model", Mlm, "--train", csv,
            "--output", Path.Combine(f.Work, "never"), "--max-steps", "1");
        r.Stderr.Should().Be($"torchbert: error: {csv}:3: the label is empty\n", "no empty line before the message");
        var squad = Path.Combine(f.Work, "squad.json");
        File.WriteAllText(squad, """{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "q1", "question": "q", "answers": [{"text": "b", "answer_start": "x"}]}]}]}]}""");
        Fails(1, $"{squad}: data[0].paragraphs[0]: question 'q1': answer_start of 'b' must be an integer, got \"x\"",
            "train", "--task", "question-answering", "--model", Qa, "--train", squad, "--output", Path.Combine(f.Work, "never2"), "--max-steps", "1");
    }

    [Fact]
    public void Json_errors_name_the_file_and_a_1_based_line()
    {
        var bad = Path.Combine(f.Work, "broken.json");
        File.WriteAllText(bad, "{\"input_ids\": [[101, 102]],\n \"attention_mask\": }");
        // System.Text.Json says "LineNumber: 1 | BytePositionInLine: 19" (0-based): people read line 2, column 20.
        Fails(1, $"{bad}: invalid JSON: '}}' is an invalid start of a value (line 2, column 20)",
            "forward", "--model", Mlm, "--input", bad, "--output", Path.Combine(f.Work, "never.safetensors"));
    }
}
