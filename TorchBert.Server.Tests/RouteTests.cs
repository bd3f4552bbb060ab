using System.Net;
using System.Text.Json;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Server;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Server.Tests;

/// <summary>One in-process server (TestServer) with every kind of model, and the library's pipelines on the same folders.</summary>
public sealed class ServedModels : IAsyncLifetime
{
    public InProcessServer Server { get; private set; } = null!;
    public HttpClient Client => Server.Client;
    public SentenceEmbeddingPipeline MiniLM { get; } = SentenceEmbeddingPipeline.FromPretrained(TestModels.MiniLM);
    public SentenceEmbeddingPipeline MiniLMRaw { get; } = SentenceEmbeddingPipeline.FromPretrained(TestModels.MiniLM, embedding: new SentenceEmbeddingOptions { Normalize = false });
    public FeatureExtractionPipeline Tokens { get; } = FeatureExtractionPipeline.FromPretrained(TestModels.MiniLM);
    public TextClassificationPipeline Classifier { get; } = TextClassificationPipeline.FromPretrained(TestModels.Classifier);
    public TextClassificationPipeline Reranker { get; } = TextClassificationPipeline.FromPretrained(TestModels.Reranker);
    public TokenClassificationPipeline Ner { get; } = TokenClassificationPipeline.FromPretrained(TestModels.Ner);
    public QuestionAnsweringPipeline Qa { get; } = QuestionAnsweringPipeline.FromPretrained(TestModels.Qa);
    public ZeroShotClassificationPipeline ZeroShot { get; } = ZeroShotClassificationPipeline.FromPretrained(TestModels.Nli);

    public async Task InitializeAsync() => Server = await InProcess.StartAsync(new ServerOptions
    {
        Models =
        [
            new ModelSpec(null, "minilm"), new ModelSpec(TestModels.Classifier, "classifier"), new ModelSpec(TestModels.Reranker, "reranker"),
            new ModelSpec(TestModels.Nli, "nli"), new ModelSpec(TestModels.Ner, "ner"), new ModelSpec(TestModels.Qa, "qa"),
        ],
        MaxClientBatchSize = 8,
        PayloadLimit = 4000,
        CorsAllowOrigin = ["http://app.example"],
    });

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        foreach (var p in new IDisposable[] { MiniLM, MiniLMRaw, Tokens, Classifier, Reranker, Ner, Qa, ZeroShot }) p.Dispose();
    }
}

public sealed class RouteTests(ServedModels m) : IClassFixture<ServedModels>
{
    private static readonly string[] Sentences = ["What is Deep Learning?", "Deep learning is a subset of machine learning that uses neural networks with many layers.", "Paris"];

    private static string Json(object o) => JsonSerializer.Serialize(o);

    [Fact]
    public async Task Embed_single_and_batch_equal_the_library_and_have_TEIs_shape()
    {
        var (status, single, response) = await m.Client.PostAsync("/embed", Json(new { inputs = Sentences[0] }));
        status.Should().Be(HttpStatusCode.OK);
        single.GetArrayLength().Should().Be(1);
        single[0].Floats().ShouldEqual(m.MiniLM.Run(Sentences[0]));
        foreach (var h in new[] { "x-compute-time", "x-queue-time", "x-inference-time", "x-tokenization-time", "x-total-time", "x-compute-tokens", "x-compute-characters", "x-compute-type" })
            response.Headers.Contains(h).Should().BeTrue(h);
        response.Headers.GetValues("x-compute-tokens").Single().Should().Be(m.MiniLM.Tokenizer.Encode(Sentences[0]).Length.ToString());
        response.Headers.GetValues("x-compute-characters").Single().Should().Be(Sentences[0].Length.ToString());

        // a batch of different lengths runs as one padded forward; each row equals the library on that input alone
        var (_, batch, _) = await m.Client.PostAsync("/embed", Json(new { inputs = Sentences }));
        batch.GetArrayLength().Should().Be(3);
        for (int i = 0; i < Sentences.Length; i++) batch[i].Floats().ShouldEqual(m.MiniLM.Run(Sentences[i]));
    }

    [Fact]
    public async Task Embed_normalize_false_dimensions_and_token_ids()
    {
        var (_, raw, _) = await m.Client.PostAsync("/embed", Json(new { inputs = Sentences[1], normalize = false }));
        raw[0].Floats().ShouldEqual(m.MiniLMRaw.Run(Sentences[1]));

        // TEI: cut to `dimensions` first, then normalise
        var (_, cut, _) = await m.Client.PostAsync("/embed", Json(new { inputs = Sentences[1], dimensions = 8 }));
        var full = m.MiniLMRaw.Run(Sentences[1])[..8];
        var norm = MathF.Sqrt(full.Sum(x => x * x));
        cut[0].Floats().ShouldEqual(full.Select(x => x / norm).ToArray());

        // token ids are taken as they are
        var ids = m.MiniLM.Tokenizer.Encode(Sentences[0]).InputIds;
        var (_, byIds, _) = await m.Client.PostAsync("/embed", Json(new { inputs = ids }));
        byIds[0].Floats().ShouldEqual(m.MiniLM.Run(Sentences[0]));
    }

    [Fact]
    public async Task Floats_are_written_as_serde_json_writes_f32()
    {
        var raw = await m.Client.RawAsync("/embed", Json(new { inputs = "ok" }));
        var values = JsonDocument.Parse(raw).RootElement[0].Floats();
        raw.Should().Be("[[" + string.Join(",", values.Select(RyuFloat.Format)) + "]]");
        raw.Should().NotContain("E").And.NotContain("e+");
    }

    [Theory]
    [InlineData(0.1f, "0.1")]
    [InlineData(1f, "1.0")]
    [InlineData(-2.5f, "-2.5")]
    [InlineData(123456f, "123456.0")]
    [InlineData(1e12f, "1000000000000.0")]
    [InlineData(1e13f, "1e13")]
    [InlineData(1.25e13f, "1.25e13")]
    [InlineData(1.5e20f, "1.5e20")]
    [InlineData(0.000001f, "0.000001")]
    [InlineData(1.2345e-6f, "0.0000012345")]
    [InlineData(1e-7f, "1e-7")]
    [InlineData(-3.25e-8f, "-3.25e-8")]
    [InlineData(0.033280455f, "0.033280455")]
    [InlineData(3.4028235e38f, "3.4028235e38")]
    [InlineData(0f, "0.0")]
    public void Ryu_layout_matches_serde_json(float value, string expected) => RyuFloat.Format(value).Should().Be(expected);

    [Fact]
    public async Task Left_truncation_keeps_the_last_tokens()
    {
        var text = string.Join(' ', Enumerable.Range(0, 300).Select(i => i % 2 == 0 ? "alpha" : "omega"));
        var full = m.MiniLM.Tokenizer.Encode(text).InputIds;
        long[] tail = [full[0], .. full[^255..^1], full[^1]];              // [CLS] + the last 254 word pieces + [SEP]
        tail.Length.Should().Be(256);
        var (status, left, _) = await m.Client.PostAsync("/embed", Json(new { inputs = text, truncation_direction = "Left" }));
        status.Should().Be(HttpStatusCode.OK);
        var (_, byIds, _) = await m.Client.PostAsync("/embed", Json(new { inputs = tail }));
        left[0].Floats().ShouldEqual(byIds[0].Floats(), 1e-6);
        var (_, right, _) = await m.Client.PostAsync("/embed", Json(new { inputs = text }));
        right[0].Floats().ShouldEqual(m.MiniLM.Run(text));
    }

    [Fact]
    public async Task Left_truncation_of_a_pair_keeps_each_texts_tail_with_longest_first_lengths()
    {
        // The classifier takes 64 positions: budget 64 − 3 = 61 for two texts of 40 one-token words. tokenizers'
        // longest-first gives 30 + 31 (the second, on a tie, the odd token); Left keeps the last 30 and 31 words.
        string Letters(int from, int count) => string.Join(' ', Enumerable.Range(from, count).Select(i => (char)('a' + i % 26)));
        string first = Letters(0, 40), second = Letters(7, 40);
        var all = new TextClassificationParams { TopK = null, Function = ClassificationFunction.None };
        var (status, left, _) = await m.Client.PostAsync("/predict", Json(new
        {
            inputs = new[] { first, second }, model = "classifier", truncation_direction = "Left", raw_scores = true,
        }));
        status.Should().Be(HttpStatusCode.OK, left.ToString());
        var expected = m.Classifier.Run(new TextPair(Letters(10, 30), Letters(16, 31)), all);   // the tails, 30 + 31 + 3 = 64 tokens
        var head = m.Classifier.Run(new TextPair(Letters(0, 30), Letters(7, 31)), all);         // what the right side keeps
        for (int k = 0; k < expected.Count; k++)
        {
            var score = (double)left.EnumerateArray().Single(x => x.GetProperty("label").GetString() == expected[k].Label).GetProperty("score").GetSingle();
            score.Should().BeApproximately(expected[k].Score, 1e-5, expected[k].Label);
        }
        head.Select(h => h.Score).Should().NotEqual(expected.Select(e => e.Score), "the tails and the heads are different inputs");
        var (_, right, _) = await m.Client.PostAsync("/predict", Json(new { inputs = new[] { first, second }, model = "classifier", raw_scores = true }));
        var rightScore = (double)right.EnumerateArray().Single(x => x.GetProperty("label").GetString() == head[0].Label).GetProperty("score").GetSingle();
        rightScore.Should().BeApproximately(head[0].Score, 1e-5, "the default (Right) keeps the heads");
    }

    [Fact]
    public async Task Cors_allows_the_configured_origin_only()
    {
        var ok = new HttpRequestMessage(HttpMethod.Post, "/embed") { Content = new StringContent("{\"inputs\": \"a\"}", System.Text.Encoding.UTF8, "application/json") };
        ok.Headers.Add("Origin", "http://app.example");
        (await m.Client.SendAsync(ok)).Headers.GetValues("Access-Control-Allow-Origin").Should().Equal("http://app.example");
        var other = new HttpRequestMessage(HttpMethod.Post, "/embed") { Content = new StringContent("{\"inputs\": \"a\"}", System.Text.Encoding.UTF8, "application/json") };
        other.Headers.Add("Origin", "http://evil.example");
        (await m.Client.SendAsync(other)).Headers.Contains("Access-Control-Allow-Origin").Should().BeFalse();
    }

    [Fact]
    public void Options_come_from_TEIs_environment_variables_and_model_specs_parse()
    {
        var env = new Dictionary<string, string>
        {
            ["MODEL_ID"] = "BAAI/bge-small-en-v1.5", ["PORT"] = "3000", ["HOSTNAME"] = "my-container-1234", ["MAX_BATCH_TOKENS"] = "4096",
            ["MAX_CLIENT_BATCH_SIZE"] = "64", ["AUTO_TRUNCATE"] = "false", ["API_KEY"] = "k", ["MAX_BATCH_REQUESTS"] = "1", ["PAYLOAD_LIMIT"] = "100",
        };
        var o = ServerOptions.FromEnvironment(new ServerOptions(), k => env.GetValueOrDefault(k));
        o.Models.Should().Equal(new ModelSpec("BAAI/bge-small-en-v1.5"));
        (o.Port, o.Hostname, o.MaxBatchTokens, o.MaxClientBatchSize, o.AutoTruncate, o.ApiKey, o.MaxBatchRequests, o.PayloadLimit)
            .Should().Be((3000, "0.0.0.0", 4096, 64, false, "k", (int?)1, 100L), "a container's HOSTNAME (its name) is not an address to bind");
        FluentActions.Invoking(() => ServerOptions.FromEnvironment(new ServerOptions(), k => k == "PORT" ? "eighty" : null))
            .Should().Throw<ArgumentException>().WithMessage("*PORT*eighty*");
        ModelSpec.Parse("rerank=cross-encoder/ms-marco-MiniLM-L-6-v2").Should().Be(new ModelSpec("cross-encoder/ms-marco-MiniLM-L-6-v2", "rerank"));
        ModelSpec.Parse("/models/a=b").Should().Be(new ModelSpec("/models/a=b"));
        ModelSpec.Parse("BAAI/bge-small-en-v1.5").Should().Be(new ModelSpec("BAAI/bge-small-en-v1.5"));
        FluentActions.Invoking(() => new ServerOptions { Models = [new ModelSpec("a", "x"), new ModelSpec("b", "x")] }.Validate())
            .Should().Throw<ArgumentException>().WithMessage("*'x'*twice*");
    }

    [Fact]
    public async Task Embed_all_equals_feature_extraction()
    {
        var (status, json, _) = await m.Client.PostAsync("/embed_all", Json(new { inputs = new[] { Sentences[0], Sentences[2] } }));
        status.Should().Be(HttpStatusCode.OK);
        for (int i = 0; i < 2; i++)
        {
            var expected = m.Tokens.Run(i == 0 ? Sentences[0] : Sentences[2]);
            json[i].GetArrayLength().Should().Be(expected.Length);
            for (int t = 0; t < expected.Length; t++) json[i][t].Floats().ShouldEqual(expected[t]);
        }
    }

    [Fact]
    public async Task OpenAI_embeddings_float_and_base64()
    {
        var (status, json, _) = await m.Client.PostAsync("/v1/embeddings", Json(new { input = new[] { Sentences[0], Sentences[1] }, model = "minilm" }));
        status.Should().Be(HttpStatusCode.OK);
        json.GetProperty("object").GetString().Should().Be("list");
        json.GetProperty("model").GetString().Should().Be("minilm");
        var tokens = m.MiniLM.Tokenizer.Encode(Sentences[0]).Length + m.MiniLM.Tokenizer.Encode(Sentences[1]).Length;
        json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(tokens);
        json.GetProperty("usage").GetProperty("total_tokens").GetInt32().Should().Be(tokens);
        var data = json.GetProperty("data");
        data[1].GetProperty("index").GetInt32().Should().Be(1);
        data[1].GetProperty("object").GetString().Should().Be("embedding");
        data[1].GetProperty("embedding").Floats().ShouldEqual(m.MiniLM.Run(Sentences[1]));

        var (_, b64, _) = await m.Client.PostAsync("/embeddings", Json(new { input = Sentences[2], encoding_format = "base64" }));
        var bytes = Convert.FromBase64String(b64.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        var floats = Enumerable.Range(0, bytes.Length / 4).Select(i => System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4))).ToArray();
        floats.ShouldEqual(m.MiniLM.Run(Sentences[2]));
    }

    [Fact]
    public async Task Predict_texts_pairs_and_batches_equal_the_library()
    {
        var all = new TextClassificationParams { TopK = null };
        var (status, single, _) = await m.Client.PostAsync("/predict", Json(new { inputs = "i love this", model = "classifier" }));
        status.Should().Be(HttpStatusCode.OK);
        var expected = m.Classifier.Run(new TextPair("i love this"), all);
        single.GetArrayLength().Should().Be(3);
        for (int k = 0; k < 3; k++)
        {
            single[k].GetProperty("label").GetString().Should().Be(expected[k].Label);
            ((double)single[k].GetProperty("score").GetSingle()).Should().BeApproximately(expected[k].Score, 1e-6);
        }

        var (_, pair, _) = await m.Client.PostAsync("/predict", Json(new { inputs = new[] { "a man eats", "a person eats" }, model = "classifier" }));
        pair.GetArrayLength().Should().Be(3, "a pair is one input");
        var pairExpected = m.Classifier.Run(new TextPair("a man eats", "a person eats"), all);
        pair[0].GetProperty("label").GetString().Should().Be(pairExpected[0].Label);

        var (_, batch, _) = await m.Client.PostAsync("/predict", Json(new { inputs = new object[] { new[] { "i love this" }, new[] { "a man eats", "a person eats" } }, model = "classifier", raw_scores = true }));
        batch.GetArrayLength().Should().Be(2);
        var rawExpected = m.Classifier.Run(new TextPair("a man eats", "a person eats"), new TextClassificationParams { TopK = null, Function = ClassificationFunction.None });
        for (int k = 0; k < 3; k++)
            ((double)batch[1][k].GetProperty("score").GetSingle()).Should().BeApproximately(rawExpected[k].Score, 1e-5);
    }

    [Fact]
    public async Task Rerank_and_cohere_rerank_equal_the_cross_encoder()
    {
        string query = "what is paris";
        string[] texts = ["paris is the capital of france", "i like trains", "the eiffel tower is in paris"];
        var expected = texts.Select(t => m.Reranker.Run(new TextPair(query, t))[0].Score).ToArray();
        var order = Enumerable.Range(0, 3).OrderByDescending(i => expected[i]).ToArray();

        var (status, json, _) = await m.Client.PostAsync("/rerank", Json(new { query, texts, return_text = true, model = "reranker" }));
        status.Should().Be(HttpStatusCode.OK);
        json.EnumerateArray().Select(r => r.GetProperty("index").GetInt32()).Should().Equal(order);
        foreach (var r in json.EnumerateArray())
        {
            var i = r.GetProperty("index").GetInt32();
            ((double)r.GetProperty("score").GetSingle()).Should().BeApproximately(expected[i], 1e-6);
            r.GetProperty("text").GetString().Should().Be(texts[i]);
            r.EnumerateObject().Select(p => p.Name).Should().Equal("index", "text", "score");
        }

        var (_, cohere, _) = await m.Client.PostAsync("/v2/rerank", Json(new { model = "reranker", query, documents = texts, top_n = 2, return_documents = true }));
        var results = cohere.GetProperty("results");
        results.GetArrayLength().Should().Be(2);
        results[0].GetProperty("index").GetInt32().Should().Be(order[0]);
        ((double)results[0].GetProperty("relevance_score").GetSingle()).Should().BeApproximately(expected[order[0]], 1e-6);
        results[0].GetProperty("document").GetProperty("text").GetString().Should().Be(texts[order[0]]);
        cohere.GetProperty("id").GetString().Should().NotBeNullOrEmpty();
        cohere.TryGetProperty("meta", out _).Should().BeTrue();
    }

    [Fact]
    public async Task Similarity_is_the_cosine_of_the_library_embeddings()
    {
        var (status, json, _) = await m.Client.PostAsync("/similarity", Json(new { inputs = new { source_sentence = Sentences[0], sentences = new[] { Sentences[1], Sentences[2] } } }));
        status.Should().Be(HttpStatusCode.OK);
        var source = m.MiniLM.Run(Sentences[0]);
        for (int i = 0; i < 2; i++)
            ((double)json[i].GetSingle()).Should().BeApproximately(Similarity.Cosine(source, m.MiniLM.Run(Sentences[i + 1])), 1e-5);
    }

    [Fact]
    public async Task Tokenize_reports_utf8_byte_offsets_and_decode_inverts_it()
    {
        var (status, json, _) = await m.Client.PostAsync("/tokenize", Json(new { inputs = "café au lait" }));
        status.Should().Be(HttpStatusCode.OK);
        var tokens = json[0];
        tokens[0].GetProperty("text").GetString().Should().Be("[CLS]");
        tokens[0].GetProperty("special").GetBoolean().Should().BeTrue();
        tokens[0].GetProperty("start").ValueKind.Should().Be(JsonValueKind.Null);
        tokens[1].EnumerateObject().Select(p => p.Name).Should().Equal("id", "text", "special", "start", "stop");
        // "café" is 5 UTF-8 bytes: "au" starts at byte 6 (a Rust tokenizer's offsets, as TEI reports them)
        var au = tokens.EnumerateArray().First(t => t.GetProperty("text").GetString() == "au");
        au.GetProperty("start").GetInt32().Should().Be(6);
        au.GetProperty("stop").GetInt32().Should().Be(8);
        var ids = tokens.EnumerateArray().Select(t => t.GetProperty("id").GetInt64()).ToArray();

        var (_, decoded, _) = await m.Client.PostAsync("/decode", Json(new { ids }));
        decoded[0].GetString().Should().Be(m.MiniLM.Tokenizer.Decode(ids, skipSpecialTokens: true));
        decoded[0].GetString().Should().Be("cafe au lait");
    }

    [Fact]
    public async Task Token_classification_question_answering_and_zero_shot_equal_the_pipelines()
    {
        var text = "john lives in paris";
        var (status, ner, _) = await m.Client.PostAsync("/token_classification", Json(new { model = "ner", inputs = text }));
        status.Should().Be(HttpStatusCode.OK);
        var expected = m.Ner.Run(text);
        ner.GetArrayLength().Should().Be(expected.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            ner[i].GetProperty("entity").GetString().Should().Be(expected[i].Entity);
            ner[i].GetProperty("word").GetString().Should().Be(expected[i].Word);
            ner[i].GetProperty("start").GetInt32().Should().Be(expected[i].Start);
            ((double)ner[i].GetProperty("score").GetSingle()).Should().BeApproximately(expected[i].Score, 1e-6);
        }

        var qc = new QuestionContext("where does john live?", "john lives in paris with his dog.");
        var (_, qa, _) = await m.Client.PostAsync("/question_answering", Json(new { model = "qa", inputs = new { question = qc.Question, context = qc.Context } }));
        var answer = m.Qa.Run(qc)[0];
        qa.GetProperty("answer").GetString().Should().Be(answer.Answer);
        qa.GetProperty("start").GetInt32().Should().Be(answer.Start);
        ((double)qa.GetProperty("score").GetSingle()).Should().BeApproximately(answer.Score, 1e-6);

        var labels = new[] { "travel", "cooking", "sports" };
        var (_, zs, _) = await m.Client.PostAsync("/zero_shot", Json(new { model = "nli", inputs = "i boiled pasta", parameters = new { candidate_labels = labels } }));
        var z = m.ZeroShot.Run("i boiled pasta", new ZeroShotParams { CandidateLabels = labels });
        zs.GetProperty("sequence").GetString().Should().Be("i boiled pasta");
        zs.GetProperty("labels").EnumerateArray().Select(l => l.GetString()).Should().Equal(z.Labels);
        zs.GetProperty("scores").Floats().ShouldEqual(z.Scores.Select(s => (float)s).ToArray(), 1e-6);
    }

    [Fact]
    public async Task Bare_url_routes_go_to_the_default_models_natural_route()
    {
        var (status, json, _) = await m.Client.PostAsync("/", Json(new { inputs = Sentences[2] }));
        status.Should().Be(HttpStatusCode.OK);
        json[0].Floats().ShouldEqual(m.MiniLM.Run(Sentences[2]));
        var (_, inv, _) = await m.Client.PostAsync("/invocations", Json(new { inputs = Sentences[2] }));
        inv[0].Floats().ShouldEqual(m.MiniLM.Run(Sentences[2]));
    }

    [Fact]
    public async Task Errors_have_TEIs_statuses_and_bodies()
    {
        async Task Expect(string route, string body, HttpStatusCode status, string errorType, params string[] mentions)
        {
            var (s, json, _) = await m.Client.PostAsync(route, body);
            s.Should().Be(status, body);
            json.GetProperty("error_type").GetString().Should().Be(errorType);
            foreach (var word in mentions) json.GetProperty("error").GetString().Should().Contain(word);
            json.EnumerateObject().Select(p => p.Name).Should().Equal("error", "error_type");
        }
        await Expect("/embed", """{"inputs": []}""", HttpStatusCode.BadRequest, "Empty", "cannot be empty");
        await Expect("/embed", Json(new { inputs = Enumerable.Repeat("a", 9).ToArray() }), HttpStatusCode.UnprocessableEntity, "Validation", "batch size 9 > maximum allowed batch size 8");
        var longText = string.Join(' ', Enumerable.Repeat("word", 300));
        await Expect("/embed", Json(new { inputs = longText, truncate = false }), HttpStatusCode.UnprocessableEntity, "Validation", "less than 256 tokens", "Given: 302");
        await Expect("/embed", "{\"inputs\": \"" + new string('a', 5000) + "\"}", HttpStatusCode.RequestEntityTooLarge, "Validation", "payload limit of 4000 bytes");
        await Expect("/embed", "{\"inputs\": ", HttpStatusCode.UnprocessableEntity, "Validation", "JSON");
        await Expect("/embed", """{"inputs": "a", "normalize": "yes"}""", HttpStatusCode.UnprocessableEntity, "Validation", "`normalize`");
        await Expect("/embed", """{"inputs": [1, "a"]}""", HttpStatusCode.UnprocessableEntity, "Validation", "`inputs[1]`");
        await Expect("/embed", """{"truncate": true}""", HttpStatusCode.UnprocessableEntity, "Validation", "`inputs`");
        await Expect("/embed", """{"inputs": "a", "model": "nope"}""", HttpStatusCode.NotFound, "Validation", "`nope`", "minilm");
        await Expect("/predict", """{"inputs": "a"}""", (HttpStatusCode)424, "Backend", "minilm");
        await Expect("/rerank", """{"query": "a", "texts": ["b"], "model": "classifier"}""", (HttpStatusCode)424, "Backend");
        await Expect("/embed", """{"inputs": "a", "prompt_name": "query"}""", HttpStatusCode.UnprocessableEntity, "Validation", "`query`");

        // truncation (the default) accepts the long text
        var (ok, _, _) = await m.Client.PostAsync("/embed", Json(new { inputs = longText }));
        ok.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task OpenAI_and_Cohere_routes_answer_errors_in_their_own_shapes()
    {
        var (status, json, _) = await m.Client.PostAsync("/v1/embeddings", """{"input": [], "model": "minilm"}""");
        status.Should().Be(HttpStatusCode.BadRequest);
        var error = json.GetProperty("error");
        error.GetProperty("message").GetString().Should().Contain("cannot be empty");
        error.GetProperty("type").GetString().Should().Be("invalid_request_error");
        error.TryGetProperty("param", out _).Should().BeTrue();
        error.TryGetProperty("code", out _).Should().BeTrue();

        var (s2, j2, _) = await m.Client.PostAsync("/v1/embeddings", """{"input": "a", "model": "gpt-4"}""");
        s2.Should().Be(HttpStatusCode.NotFound);
        j2.GetProperty("error").GetProperty("code").GetString().Should().Be("model_not_found");

        var (s3, j3, _) = await m.Client.PostAsync("/v2/rerank", """{"query": "a", "documents": 3, "model": "reranker"}""");
        s3.Should().Be(HttpStatusCode.UnprocessableEntity);
        j3.GetProperty("message").GetString().Should().Contain("`documents`");
    }

    [Fact]
    public async Task Info_health_ping_and_metrics()
    {
        var info = JsonDocument.Parse(await m.Client.GetStringAsync("/info")).RootElement;
        info.GetProperty("model_id").GetString().Should().Be("sentence-transformers/all-MiniLM-L6-v2");
        info.GetProperty("served_model_name").GetString().Should().Be("minilm");
        info.GetProperty("model_type").GetProperty("embedding").GetProperty("pooling").GetString().Should().Be("mean");
        info.GetProperty("max_input_length").GetInt32().Should().Be(256);
        info.GetProperty("max_client_batch_size").GetInt32().Should().Be(8);
        info.GetProperty("max_batch_tokens").GetInt32().Should().Be(16384);
        info.GetProperty("auto_truncate").GetBoolean().Should().BeTrue();
        info.GetProperty("models").GetArrayLength().Should().Be(6);

        (await m.Client.GetAsync("/health")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await m.Client.GetAsync("/ping")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await m.Client.GetAsync("/")).StatusCode.Should().Be(HttpStatusCode.OK);

        await m.Client.PostAsync("/embed", Json(new { inputs = "metrics" }));
        var metrics = await m.Client.GetStringAsync("/metrics");
        foreach (var name in new[] { "te_request_count{method=\"single\"}", "te_request_success{method=\"single\"}", "te_embed_count", "te_request_duration_bucket",
                     "te_request_inference_duration_sum", "te_request_inference_duration_count", "te_request_queue_duration_bucket", "te_request_tokenization_duration_bucket",
                     "te_request_input_length_bucket", "te_batch_next_size_bucket", "te_batch_next_tokens_bucket", "te_queue_size" })
            metrics.Should().Contain(name);
        // TEI's duration buckets: 35 of them, 1.5e-5 × 1.5^k
        metrics.Split('\n').Count(l => l.StartsWith("te_request_duration_bucket{", StringComparison.Ordinal)).Should().Be(36, "35 buckets and +Inf");
        metrics.Should().Contain("te_request_duration_bucket{le=\"1.5000000000000002e-05\"}");
        metrics.Should().Contain("te_batch_next_size_bucket{le=\"4096\"}");

        (await m.Client.GetAsync("/openapi/v1.json")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await m.Client.GetStringAsync("/openapi/v1.json")).Should().Contain("/v1/embeddings").And.Contain("/rerank").And.Contain("source_sentence").And.Contain("encoding_format");
    }
}

/// <summary>SPLADE on an MLM head, checked against max over tokens of log(1 + relu(logits)) computed here from the raw logits.</summary>
public sealed class SparseRouteTests
{
    [Fact]
    public async Task Embed_sparse_is_splade_max_pooling_of_the_mlm_logits()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(TestModels.Mlm, "splade")], Pooling = "splade" });
        string[] texts = ["the cat sat", "a much longer sentence about a dog"];
        var (status, json, _) = await server.Client.PostAsync("/embed_sparse", JsonSerializer.Serialize(new { inputs = texts }));
        status.Should().Be(HttpStatusCode.OK);
        var info = JsonDocument.Parse(await server.Client.GetStringAsync("/info")).RootElement;
        info.GetProperty("model_type").GetProperty("embedding").GetProperty("pooling").GetString().Should().Be("splade");

        using var mlm = BertForMaskedLM.FromPretrained(TestModels.Mlm);
        mlm.eval();
        var tokenizer = TokenizerLoader.ForModel(TestModels.Mlm);
        for (int i = 0; i < texts.Length; i++)
        {
            // the oracle: each text alone (no padding), plain loops over the logits
            var e = tokenizer.Encode(texts[i]);
            float[] logits;
            long vocab;
            using (inference_mode())
            using (var ids = tensor(e.InputIds, [1, e.Length]))
            using (var output = mlm.forward(ids).Logits)
            {
                vocab = output.shape[2];
                logits = output.to(ScalarType.Float32).cpu().data<float>().ToArray();
            }
            var expected = new Dictionary<int, float>();
            for (int v = 0; v < vocab; v++)
            {
                float top = float.NegativeInfinity;
                for (int t = 0; t < e.Length; t++) top = Math.Max(top, logits[t * vocab + v]);
                if (top > 0) expected[v] = (float)Math.Log(1.0 + top);   // log1p(relu(x)) is increasing: max commutes with it
            }
            var actual = json[i].EnumerateArray().ToDictionary(x => x.GetProperty("index").GetInt32(), x => x.GetProperty("value").GetSingle());
            actual.Keys.Should().BeEquivalentTo(expected.Keys);
            foreach (var (k, v) in expected) ((double)actual[k]).Should().BeApproximately(v, 1e-5);
            json[i].EnumerateArray().Select(x => x.GetProperty("index").GetInt32()).Should().BeInAscendingOrder();
        }
    }
}
