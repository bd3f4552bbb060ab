using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Pipelines;
using static TorchSharp.torch;

namespace TorchBert.Tests.Embeddings;

/// <summary>
/// sentence-transformers folders decide pooling, normalization, prompts and lower-casing, as
/// <c>SentenceTransformer</c> reads them; expectations come from HF's recorded hidden states and sentence-transformers'
/// arithmetic (<see cref="StFolders"/>), never from TorchBert's pipeline.
/// </summary>
public sealed class SentenceTransformerFolderTests(StFolders st) : IClassFixture<StFolders>
{
    private const double Tol = 5e-5;
    private static readonly PipelineOptions Cpu = new() { Device = CPU };
    private static readonly string[] Texts = [StFolders.Row1Text, StFolders.Row2Text];

    public static TheoryData<string, bool> Modes() => new()
    {
        { "pooling_mode_cls_token", false }, { "pooling_mode_cls_token", true },
        { "pooling_mode_mean_tokens", false }, { "pooling_mode_mean_tokens", true },
        { "pooling_mode_max_tokens", false }, { "pooling_mode_max_tokens", true },
        { "pooling_mode_mean_sqrt_len_tokens", false }, { "pooling_mode_mean_sqrt_len_tokens", true },
        { "pooling_mode_weightedmean_tokens", false }, { "pooling_mode_lasttoken", true },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void The_folder_decides_pooling_and_normalization(string mode, bool normalize)
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(st.StFolder(StFolders.PoolingConfig(mode), normalize), Cpu);
        pipe.Tokenizer.Encode(StFolders.Row1Text).InputIds.Should().Equal(st.Ids.Skip(11).Take(7), "the text is recorded row 1");
        pipe.Tokenizer.Encode(StFolders.Row2Text).InputIds.Should().Equal(st.Ids.Skip(22).Take(4), "the text is recorded row 2");
        var vectors = pipe.Run(Texts);                                     // one padded batch
        for (int r = 0; r < 2; r++)
        {
            var expected = StFolders.Pool(mode, st.Hidden[r]);
            if (normalize) expected = StFolders.Normalize(expected);
            StFolders.Close(vectors[r], expected, Tol, $"{mode}, normalize={normalize}, row {r + 1}");
        }
        pipe.Normalize.Should().Be(normalize);
    }

    [Fact]
    public void A_cls_folder_gets_cls_even_with_the_old_default_and_the_flag_overrides_the_folder()
    {
        var dir = st.StFolder(StFolders.PoolingConfig("pooling_mode_cls_token"), normalize: true);
        using (var pipe = SentenceEmbeddingPipeline.FromPretrained(dir, Cpu))
        {
            pipe.Pooling.Should().Be(Pooling.Cls);
            StFolders.Close(pipe.Run(StFolders.Row1Text), StFolders.Normalize(st.Hidden[0][0]), Tol, "CLS from the folder");
        }
        using (var pipe = SentenceEmbeddingPipeline.FromPretrained(dir, Cpu, new SentenceEmbeddingOptions { Pooling = Pooling.Mean, Normalize = false }))
            StFolders.Close(pipe.Run(StFolders.Row1Text), StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[0]), Tol, "--pooling mean --no-normalize");
    }

    [Fact]
    public void Several_modes_are_concatenated_in_sentence_transformers_order()
    {
        // cls + mean + max: forward() appends cls, then max, then mean
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(
            st.StFolder(StFolders.PoolingConfig("pooling_mode_mean_tokens", "pooling_mode_cls_token", "pooling_mode_max_tokens"), normalize: false), Cpu);
        pipe.EmbeddingDimension.Should().Be(96);
        pipe.Config.PoolingName.Should().Be("cls+max+mean");
        var h = st.Hidden[1];
        double[] expected = [.. StFolders.Pool("pooling_mode_cls_token", h), .. StFolders.Pool("pooling_mode_max_tokens", h), .. StFolders.Pool("pooling_mode_mean_tokens", h)];
        StFolders.Close(pipe.Run(StFolders.Row2Text), expected, Tol, "concatenated");
    }

    [Fact]
    public void A_folder_without_modules_json_keeps_the_defaults_mean_and_normalize()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(st.Folder(new Dictionary<string, object?>()), Cpu);
        pipe.Config.FromModulesFile.Should().BeFalse();
        StFolders.Close(pipe.Run(StFolders.Row1Text), StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[0])), Tol, "defaults");
    }

    [Fact]
    public void Pooling_config_without_flags_is_mean_as_the_Pooling_constructor_defaults()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(st.StFolder(new Dictionary<string, object> { ["word_embedding_dimension"] = 32 }, normalize: false), Cpu);
        StFolders.Close(pipe.Run(StFolders.Row2Text), StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1]), Tol, "mean by default");
    }

    private string PromptFolder(bool includePrompt = true, string? defaultPrompt = "query")
    {
        var pooling = StFolders.PoolingConfig("pooling_mode_mean_tokens");
        pooling["include_prompt"] = includePrompt;
        var config = new Dictionary<string, object?> { ["prompts"] = new Dictionary<string, string> { ["query"] = "ア ", ["doc"] = "join " } };
        if (defaultPrompt is not null) config["default_prompt_name"] = defaultPrompt;
        return st.StFolder(pooling, normalize: true, ("config_sentence_transformers.json", config));
    }

    [Fact]
    public void Prompts_are_prepended_and_the_default_prompt_applies_when_none_is_named()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(PromptFolder(), Cpu);
        var mean1 = StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[0]));
        var mean2 = StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1]));
        // default_prompt_name 'query' → "ア " + text = recorded row 1
        var byDefault = pipe.Embed(["[MASK] flieszz oneself detectors"]);
        StFolders.Close(byDefault.Vectors[0], mean1, Tol, "default prompt prepended");
        byDefault.TokenCounts.Should().Equal(7);
        // prompt_name 'doc' → "join " + "jacob" = recorded row 2
        StFolders.Close(pipe.Run("jacob", new SentenceEmbeddingParameters { PromptName = "doc" }), mean2, Tol, "named prompt");
        // a literal prompt wins; "" means none
        StFolders.Close(pipe.Run("jacob", new SentenceEmbeddingParameters { Prompt = "join ", PromptName = "query" }), mean2, Tol, "literal prompt");
        pipe.Embed(["[MASK] flieszz oneself detectors"], new SentenceEmbeddingParameters { Prompt = "" }).TokenCounts.Should().Equal(6);
        // an unknown name is a clear error before any work
        var act = () => pipe.Run("jacob", new SentenceEmbeddingParameters { PromptName = "passage" });
        act.Should().Throw<ArgumentException>().WithMessage("*'passage'*'query', 'doc'*");
    }

    [Fact]
    public void Include_prompt_false_leaves_cls_and_the_prompt_tokens_out_of_the_mean()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(PromptFolder(includePrompt: false), Cpu);
        // prompt_length = len(tokenize("ア")) - 1 = 2: positions 0 ([CLS]) and 1 (ア) are masked
        var expected = StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[0], masked: 2));
        StFolders.Close(pipe.Run("[MASK] flieszz oneself detectors"), expected, Tol, "include_prompt=false");
        // with no prompt nothing is masked
        var noPrompt = StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[0]));
        StFolders.Close(pipe.Run(StFolders.Row1Text, new SentenceEmbeddingParameters { Prompt = "" }), noPrompt, Tol, "no prompt");
    }

    [Fact]
    public void Served_rows_of_different_prompts_share_one_forward_and_each_leaves_out_its_own_prompt()
    {
        // what a server does: rows of several calls (each with its own prompt) prepared one by one, then one ForwardRows
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(PromptFolder(includePrompt: false), Cpu);
        var encode = new TorchBert.Tokenization.EncodeOptions();
        var rows = new[]
        {
            pipe.Prepare("[MASK] flieszz oneself detectors", new SentenceEmbeddingParameters { Prompt = "ア " }, encode),    // prompt_length 2
            pipe.Prepare("flieszz oneself detectors", new SentenceEmbeddingParameters { Prompt = "ア [MASK] " }, encode),   // prompt_length 3
            pipe.Prepare("jacob", new SentenceEmbeddingParameters { PromptName = "doc" }, encode),                          // prompt_length 2
            pipe.Prepare(StFolders.Row2Text, new SentenceEmbeddingParameters { Prompt = "" }, encode),                      // no prompt
        };
        rows[0].InputIds.Should().Equal(st.Ids.Skip(11).Take(7));
        rows[1].InputIds.Should().Equal(st.Ids.Skip(11).Take(7));
        var vectors = pipe.ForwardRows(rows);
        StFolders.Close(vectors[0], StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[0], masked: 2)), Tol, "row 0");
        StFolders.Close(vectors[1], StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[0], masked: 3)), Tol, "row 1");
        StFolders.Close(vectors[2], StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1], masked: 2)), Tol, "row 2");
        StFolders.Close(vectors[3], StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1])), Tol, "row 3");
    }

    [Fact]
    public void Do_lower_case_lowercases_before_a_cased_tokenizer()
    {
        var pooling = StFolders.PoolingConfig("pooling_mode_mean_tokens");
        var cased = ("tokenizer_config.json", (object?)new Dictionary<string, object> { ["do_lower_case"] = false });
        using (var pipe = SentenceEmbeddingPipeline.FromPretrained(st.StFolder(pooling, true, cased,
                   ("sentence_bert_config.json", new Dictionary<string, object> { ["max_seq_length"] = 16, ["do_lower_case"] = true })), Cpu))
        {
            pipe.MaxSeqLength.Should().Be(16);
            StFolders.Close(pipe.Run("JOIN JACOB"), StFolders.Normalize(StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1])), Tol, "lower-cased");
        }
        using (var pipe = SentenceEmbeddingPipeline.FromPretrained(st.StFolder(pooling, true, cased), Cpu))
            pipe.Tokenizer.Encode("JOIN JACOB").InputIds.Should().NotEqual(st.Ids.Skip(22).Take(4), "the cased tokenizer alone does not lower-case");
    }

    [Fact]
    public void Dimensions_truncate_then_renormalize()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(st.StFolder(StFolders.PoolingConfig("pooling_mode_mean_tokens"), true), Cpu);
        var full = StFolders.Pool("pooling_mode_mean_tokens", st.Hidden[1]);
        StFolders.Close(pipe.Run(StFolders.Row2Text, new SentenceEmbeddingParameters { Dimensions = 8 }), StFolders.Normalize(full[..8]), Tol, "truncate_dim 8");
        var act = () => pipe.Run("x", new SentenceEmbeddingParameters { Dimensions = 33 });
        act.Should().Throw<ArgumentException>().WithMessage("*33*more than the model's 32*");
    }

    [Theory]
    [InlineData("modules.json", "{not json", "*modules.json: invalid JSON*")]
    [InlineData("1_Pooling/config.json", null, "*1_Pooling*config.json: not found*")]
    [InlineData("1_Pooling/config.json", "{\"pooling_mode_mean_tokens\": false}", "*every pooling_mode_* is false*")]
    [InlineData("1_Pooling/config.json", "{\"pooling_mode\": \"median\"}", "*pooling_mode 'median'*")]
    [InlineData("config_sentence_transformers.json", "{\"prompts\": {\"query\": \"q: \"}, \"default_prompt_name\": \"doc\"}", "*default_prompt_name 'doc'*")]
    [InlineData("sentence_bert_config.json", "{\"max_seq_length\": 0}", "*max_seq_length must be > 0*")]
    public void Bad_sentence_transformers_files_are_clear_errors(string file, string? content, string message)
    {
        var files = new Dictionary<string, object?> { ["modules.json"] = StFolders.Modules(true), ["1_Pooling/config.json"] = StFolders.PoolingConfig("pooling_mode_mean_tokens") };
        files[file] = content;
        var act = () => SentenceEmbeddingPipeline.FromPretrained(st.Folder(files), Cpu);
        act.Should().Throw<TorchBert.Configuration.SentenceTransformerConfigException>().WithMessage(message);
    }

    [Fact]
    public void A_module_torchbert_cannot_run_is_named()
    {
        var files = new Dictionary<string, object?>
        {
            ["modules.json"] = new object[]
            {
                new { idx = 0, name = "0", path = "", type = "sentence_transformers.models.Transformer" },
                new { idx = 1, name = "1", path = "1_Pooling", type = "sentence_transformers.models.Pooling" },
                new { idx = 2, name = "2", path = "2_Dense", type = "sentence_transformers.models.Dense" },
            },
            ["1_Pooling/config.json"] = StFolders.PoolingConfig("pooling_mode_mean_tokens"),
        };
        var act = () => SentenceEmbeddingPipeline.FromPretrained(st.Folder(files), Cpu);
        act.Should().Throw<TorchBert.Configuration.SentenceTransformerConfigException>().WithMessage("*sentence_transformers.models.Dense*not supported*");
    }
}
