using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TorchBert.Pipelines;
using TorchBert.Tokenization;

namespace TorchBert.Server;

/// <summary>Which error body a route answers with.</summary>
internal enum ErrorShape { Tei, OpenAI, Cohere }

/// <summary>One inference request in flight: its body, model, timings and where the answer goes.</summary>
internal sealed class Call(HttpContext http, ServerState state, JsonElement body, ILogger log)
{
    public HttpContext Http { get; } = http;
    public ServerState State { get; } = state;
    public JsonElement Body { get; } = body;
    public ILogger Log { get; } = log;
    public CallTiming Timing { get; } = new();
    public ServedModel Model { get; set; } = null!;
    public CancellationToken Aborted => Http.RequestAborted;
    public ServerMetrics Metrics => State.Metrics;
    public ServerOptions Options => State.Options;

    public ServedModel PickModel()
    {
        Model = State.Pick(Fields.String(Body, "model"), Log);
        Timing.ComputeType = Model.DeviceType;
        return Model;
    }
}

/// <summary>The HTTP routes: TEI's JSON, OpenAI's, Cohere's rerank and HF's pipeline JSON for the tasks TEI lacks.</summary>
internal static class Endpoints
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Map(WebApplication app, ServerState state)
    {
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("TorchBert.Server");
        void Post<TRequest>(string route, ErrorShape shape, string summary, Func<Call, Task<Action<Utf8JsonWriter>>> handler) where TRequest : notnull =>
            app.MapPost(route, (HttpContext ctx, CancellationToken _) => Handle(ctx, state, log, shape, handler))
                .WithSummary(summary).WithTags("inference").Accepts<TRequest>("application/json").Produces<JsonElement>(200, "application/json")
                .Produces<ErrorResponse>(400).Produces<ErrorResponse>(413).Produces<ErrorResponse>(422).Produces<ErrorResponse>(424).Produces<ErrorResponse>(429);

        Post<EmbedRequest>(ServerRoutes.Embed, ErrorShape.Tei, "Pooled sentence embeddings (TEI)", Embed);
        Post<EmbedRequest>(ServerRoutes.EmbedAll, ErrorShape.Tei, "One vector per token (TEI)", EmbedAll);
        Post<EmbedRequest>(ServerRoutes.EmbedSparse, ErrorShape.Tei, "SPLADE sparse embeddings (TEI)", EmbedSparse);
        Post<PredictRequest>(ServerRoutes.Predict, ErrorShape.Tei, "Sequence classification of texts or pairs (TEI)", Predict);
        Post<RerankRequest>(ServerRoutes.Rerank, ErrorShape.Tei, "Cross-encoder reranking (TEI)", Rerank);
        Post<SimilarityRequest>(ServerRoutes.Similarity, ErrorShape.Tei, "Cosine similarity of a sentence to others (TEI)", Similarity);
        Post<TokenizeRequest>(ServerRoutes.Tokenize, ErrorShape.Tei, "Tokens with byte offsets (TEI)", Tokenize);
        Post<DecodeRequest>(ServerRoutes.Decode, ErrorShape.Tei, "Token ids back to text (TEI)", Decode);
        Post<OpenAIEmbeddingRequest>(ServerRoutes.OpenAIEmbeddings, ErrorShape.OpenAI, "OpenAI embeddings", OpenAIEmbed);
        Post<OpenAIEmbeddingRequest>(ServerRoutes.OpenAIEmbeddingsShort, ErrorShape.OpenAI, "OpenAI embeddings", OpenAIEmbed);
        Post<EmbedRequest>(ServerRoutes.Root, ErrorShape.Tei, "The default model's natural route (embed, predict, rerank, embed_sparse, ...)", Natural);
        Post<EmbedRequest>(ServerRoutes.Invocations, ErrorShape.Tei, "The default model's natural route (SageMaker)", Natural);
        Post<CohereRerankRequest>(ServerRoutes.CohereRerank, ErrorShape.Cohere, "Cohere-style rerank with top_n and return_documents", CohereRerank);
        Post<TokenClassificationRequest>(ServerRoutes.TokenClassification, ErrorShape.Tei, "Token classification (HF pipeline JSON)", TokenClassification);
        Post<QuestionAnsweringRequest>(ServerRoutes.QuestionAnswering, ErrorShape.Tei, "Extractive question answering (HF pipeline JSON)", QuestionAnswering);
        Post<ZeroShotRequest>(ServerRoutes.ZeroShot, ErrorShape.Tei, "Zero-shot classification with an NLI model (HF pipeline JSON)", ZeroShot);

        app.MapGet(ServerRoutes.Info, (HttpContext ctx, CancellationToken _) => WriteJson(ctx, 200, w => Info(w, state))).WithSummary("Model and router parameters (TEI)").WithTags("status");
        foreach (var route in new[] { ServerRoutes.Health, ServerRoutes.Root, ServerRoutes.Ping })
            app.MapGet(route, (HttpContext ctx, CancellationToken _) => state.Healthy
                ? Task.CompletedTask
                : WriteError(ctx, ErrorShape.Tei, new ApiException(ErrorKind.Unhealthy, "unhealthy"))).WithSummary("200 when a forward has succeeded and the server is not draining; 503 otherwise").WithTags("status");
        app.MapGet(ServerRoutes.Metrics, async (HttpContext ctx, CancellationToken _) =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await state.Metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted);
        }).WithSummary("Prometheus metrics (TEI's te_* names)").WithTags("status");
    }

    /// <summary>Routes that need no API key (TEI's public routes, plus the docs).</summary>
    public static bool IsOpen(HttpRequest r) =>
        HttpMethods.IsGet(r.Method) && (r.Path == ServerRoutes.Health || r.Path == ServerRoutes.Ping || r.Path == ServerRoutes.Metrics || r.Path == ServerRoutes.Root
                                         || r.Path.StartsWithSegments("/openapi") || r.Path.StartsWithSegments(ServerRoutes.Docs));

    /// <summary>Constant-time check of <c>Authorization: Bearer KEY</c>.</summary>
    public static bool Authorized(HttpRequest r, string apiKey)
    {
        var expected = System.Text.Encoding.UTF8.GetBytes("Bearer " + apiKey);
        var given = System.Text.Encoding.UTF8.GetBytes(r.Headers.Authorization.ToString());
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    public static ErrorShape ShapeOf(PathString path) =>
        path == ServerRoutes.OpenAIEmbeddings || path == ServerRoutes.OpenAIEmbeddingsShort ? ErrorShape.OpenAI
        : path == ServerRoutes.CohereRerank ? ErrorShape.Cohere : ErrorShape.Tei;

    private static async Task Handle(HttpContext ctx, ServerState state, ILogger log, ErrorShape shape, Func<Call, Task<Action<Utf8JsonWriter>>> handler)
    {
        Call? call = null;
        var status = 200;
        try
        {
            if (state.Draining) throw new ApiException(ErrorKind.Unhealthy, "the server is shutting down");
            using var doc = await ReadBody(ctx, state.Options.PayloadLimit);
            call = new Call(ctx, state, Fields.Root(doc), log);
            var write = await handler(call);
            call.Timing.WriteHeaders(ctx.Response);
            state.Metrics.RequestDuration.Observe(call.Timing.Total.TotalSeconds);
            if (call.Timing.Computed)
            {
                state.Metrics.RequestTokenization.Observe(call.Timing.Tokenization.TotalSeconds);
                state.Metrics.RequestQueue.Observe(call.Timing.Queue.TotalSeconds);
                state.Metrics.RequestInference.Observe(call.Timing.Inference.TotalSeconds);
            }
            await WriteJson(ctx, 200, write);
        }
        catch (ApiException e)
        {
            status = e.Status;
            if (e.Kind is ErrorKind.Validation or ErrorKind.Empty or ErrorKind.PayloadTooLarge or ErrorKind.ModelNotFound && !e.Counted)
                state.Metrics.RequestFailure.WithLabels(e.Message.StartsWith("batch size", StringComparison.Ordinal) ? "batch_size" : "validation").Inc();
            if (!ctx.Response.HasStarted) await WriteError(ctx, shape, e);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            status = 499; // the client went away; nothing to answer
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Anything else is the server's fault: TEI's Backend error, one line, never a stack trace to the client.
            var error = new ApiException(ErrorKind.Backend, $"Backend error: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            status = error.Status;
            state.Metrics.RequestFailure.WithLabels("inference").Inc();
            // the exception's type and where it came from, never its message: a message can quote the input text
            log.LogError("{Method} {Path} failed: {Exception}{StackTrace}", ctx.Request.Method, ctx.Request.Path.Value, e.GetType().FullName, Environment.NewLine + e.StackTrace);
            if (!ctx.Response.HasStarted) await WriteError(ctx, shape, error);
        }
        finally
        {
            var t = call?.Timing;
            log.LogInformation("{Method} {Path} {Status} model={Model} inputs={Inputs} tokens={Tokens} total_ms={Total:F1} tokenization_ms={Tokenization:F2} queue_ms={Queue:F2} inference_ms={Inference:F2}",
                ctx.Request.Method, ctx.Request.Path.Value, status, call?.Model?.Name, t?.Inputs ?? 0, t?.Tokens ?? 0,
                t?.Total.TotalMilliseconds ?? 0, t?.Tokenization.TotalMilliseconds ?? 0, t?.Queue.TotalMilliseconds ?? 0, t?.Inference.TotalMilliseconds ?? 0);
        }
    }

    private static async Task<JsonDocument> ReadBody(HttpContext ctx, long limit)
    {
        if (ctx.Request.ContentLength is long declared && declared > limit)
            throw new ApiException(ErrorKind.PayloadTooLarge, $"request body of {declared} bytes is over the payload limit of {limit} bytes");
        var buffer = new ArrayBufferWriter<byte>();
        var stream = ctx.Request.Body;
        while (true)
        {
            var span = buffer.GetMemory(16384);
            var n = await stream.ReadAsync(span, ctx.RequestAborted);
            if (n == 0) break;
            buffer.Advance(n);
            if (buffer.WrittenCount > limit)
                throw new ApiException(ErrorKind.PayloadTooLarge, $"request body is over the payload limit of {limit} bytes");
        }
        if (buffer.WrittenCount == 0) throw new ApiException(ErrorKind.Validation, "the request body is empty; expected a JSON object");
        try { return JsonDocument.Parse(buffer.WrittenMemory); }
        catch (JsonException e) { throw new ApiException(ErrorKind.Validation, $"Failed to parse the request body as JSON: {e.Message}"); }
    }

    private static async Task WriteJson(HttpContext ctx, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions)) write(w);
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = buffer.WrittenCount;
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory);
    }

    public static Task WriteError(HttpContext ctx, ErrorShape shape, ApiException e) => WriteJson(ctx, e.Status, w =>
    {
        switch (shape)
        {
            case ErrorShape.OpenAI:
                // OpenAI's own shape: {"error": {"message", "type", "param", "code"}}
                w.WriteStartObject();
                w.WriteStartObject("error");
                w.WriteString("message", e.Message);
                w.WriteString("type", e.Kind switch
                {
                    ErrorKind.Overloaded => "rate_limit_exceeded",
                    ErrorKind.Backend or ErrorKind.Unhealthy => "server_error",
                    _ => "invalid_request_error",
                });
                if (e.Param is null) w.WriteNull("param"); else w.WriteString("param", e.Param);
                w.WriteString("code", e.Kind switch
                {
                    ErrorKind.ModelNotFound => "model_not_found",
                    ErrorKind.Unauthorized => "invalid_api_key",
                    _ => e.TeiType.ToLowerInvariant(),
                });
                w.WriteEndObject();
                w.WriteEndObject();
                break;
            case ErrorShape.Cohere:
                w.WriteStartObject();
                w.WriteString("message", e.Message);
                w.WriteEndObject();
                break;
            default:
                w.WriteStartObject();
                w.WriteString("error", e.Message);
                w.WriteString("error_type", e.TeiType);
                w.WriteEndObject();
                break;
        }
    });

    // ---------------------------------------------------------------- inputs

    /// <summary>One TEI input: a text or token ids.</summary>
    private sealed record Item(string? Text, long[]? Ids)
    {
        public long Characters => Text is null ? Ids!.Length : Text.EnumerateRunes().LongCount();
    }

    /// <summary>TEI's <c>Input</c>: a string, token ids, or a batch of those; (items, was it a batch).</summary>
    private static (List<Item> Items, bool Batch) Inputs(Call c, string field = "inputs")
    {
        var v = Fields.Required(c.Body, field);
        Item One(JsonElement e, string at) => e.ValueKind switch
        {
            JsonValueKind.String => new Item(e.GetString()!, null),
            JsonValueKind.Array => new Item(null, Ids(e, at)),
            _ => throw Fields.Wrong(at, "a string or a list of token ids", e),
        };
        List<Item> items;
        bool batch;
        if (v.ValueKind == JsonValueKind.String) { items = [new Item(v.GetString()!, null)]; batch = false; }
        else if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 && v[0].ValueKind == JsonValueKind.Number) { items = [new Item(null, Ids(v, field))]; batch = false; }
        else if (v.ValueKind == JsonValueKind.Array)
        {
            items = v.EnumerateArray().Select((e, i) => One(e, $"{field}[{i}]")).ToList();
            batch = true;
        }
        else throw Fields.Wrong(field, "a string, a list of strings or token ids", v);
        CheckBatch(c, items.Count, field);
        return (items, batch);
    }

    private static long[] Ids(JsonElement e, string at)
    {
        var ids = new long[e.GetArrayLength()];
        int i = 0;
        foreach (var x in e.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetUInt32(out var id)) throw Fields.Wrong($"{at}[{i}]", "a token id (u32)", x);
            ids[i++] = id;
        }
        return ids;
    }

    private static void CheckBatch(Call c, int count, string field)
    {
        c.Metrics.RequestCount.WithLabels(count == 1 ? "single" : "batch").Inc();
        if (count == 0) throw new ApiException(ErrorKind.Empty, $"`{field}` cannot be empty", field);
        if (count > c.Options.MaxClientBatchSize)
            throw new ApiException(ErrorKind.Validation, $"batch size {count} > maximum allowed batch size {c.Options.MaxClientBatchSize}", field);
        c.Timing.Inputs = count;
    }

    private static void Require(Call c, bool ok, string what)
    {
        if (ok) return;
        c.Metrics.RequestFailure.WithLabels("model_type").Inc();
        throw new ApiException(ErrorKind.Backend, $"model `{c.Model.Name}` is a {c.Model.Kind} model: {what}");
    }

    /// <summary>
    /// One TEI input → its row: token ids as given; a text of an embedding model as the library's sentence-embedding
    /// pipeline tokenizes it (prompt, strip, do_lower_case, include_prompt); other models' texts with the prompt prepended.
    /// </summary>
    private static BertEncoding EncodeItem(Call c, Item item, bool truncate, bool left, string? promptName)
    {
        if (item.Ids is { } ids) return c.Model.EncodeIds(ids, truncate, left);
        if (c.Model.Embedder is not null) return c.Model.EncodeForEmbedding(item.Text!, promptName, truncate, left);
        var prompt = c.Model.PromptText(promptName);
        return c.Model.Encode(prompt is null ? item.Text! : prompt + item.Text, null, truncate, left);
    }

    // ---------------------------------------------------------------- TEI routes

    private static async Task<float[][]> PooledAsync(Call c, List<Item> items, bool truncate, bool left, string? promptName, bool normalize, int? dimensions)
    {
        Require(c, c.Model.Kind == ModelKind.Embedding, "it has no pooled embeddings (try /predict, /rerank or /embed_sparse)");
        if (dimensions is 0) throw new ApiException(ErrorKind.Validation, "`dimensions` should be positive", "dimensions");
        c.Model.PromptText(promptName);                                            // an unknown name fails before any work
        c.Timing.Characters = items.Sum(i => i.Characters);
        c.Metrics.EmbedCount.Inc(items.Count);
        var outputs = await Inference.RunAsync(c.State, c.Model, c.Model.EmbedRunner!, items.Count, i => [EncodeItem(c, items[i], truncate, left, promptName)], c.Timing, c.Aborted);
        var vectors = new float[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            var v = (float[])outputs[i][0];
            if (dimensions is int d)
            {
                if (d > v.Length) throw new ApiException(ErrorKind.Validation, "`dimensions` should be smaller than the maximum embedding dimension.", "dimensions");
                v = v[..d];
            }
            vectors[i] = normalize ? Normalize(v) : v;
        }
        c.Metrics.EmbedSuccess.Inc(items.Count);
        ObserveTask(c, c.Metrics.EmbedDuration, c.Metrics.EmbedTokenization, c.Metrics.EmbedQueue, c.Metrics.EmbedInference);
        return vectors;
    }

    private static void ObserveTask(Call c, Prometheus.Histogram total, Prometheus.Histogram tok, Prometheus.Histogram queue, Prometheus.Histogram inference)
    {
        total.Observe(c.Timing.Total.TotalSeconds);
        tok.Observe(c.Timing.Tokenization.TotalSeconds);
        queue.Observe(c.Timing.Queue.TotalSeconds);
        inference.Observe(c.Timing.Inference.TotalSeconds);
    }

    /// <summary>L2 normalisation as torch's <c>F.normalize</c> (x / max(‖x‖, 1e-12)).</summary>
    internal static float[] Normalize(float[] v)
    {
        double sum = 0;
        foreach (var x in v) sum += (double)x * x;
        var norm = Math.Max(Math.Sqrt(sum), 1e-12);
        return v.Select(x => (float)(x / norm)).ToArray();
    }

    private static async Task<Action<Utf8JsonWriter>> Embed(Call c)
    {
        c.PickModel();
        var (items, _) = Inputs(c);
        var truncate = Fields.Bool(c.Body, "truncate") ?? c.Options.AutoTruncate;
        var vectors = await PooledAsync(c, items, truncate, Fields.Left(c.Body), Fields.String(c.Body, "prompt_name"),
            Fields.Bool(c.Body, "normalize") ?? true, Fields.Int(c.Body, "dimensions", 0));
        c.Metrics.RequestSuccess.WithLabels(items.Count == 1 ? "single" : "batch").Inc();
        return w =>
        {
            w.WriteStartArray();
            foreach (var v in vectors) w.WriteFloats(v);
            w.WriteEndArray();
        };
    }

    /// <summary>
    /// What /embed_all and /embed_sparse share: each input encoded once (the request's truncate, truncation_direction and
    /// prompt_name), run through <paramref name="runner"/> in the model's queue, counted in TEI's embed metrics.
    /// </summary>
    private static async Task<IReadOnlyList<object>[]> PerInputRowsAsync(Call c, IReadOnlyList<Item> items, TorchBert.Serving.IRowRunner runner)
    {
        var truncate = Fields.Bool(c.Body, "truncate") ?? c.Options.AutoTruncate;
        var left = Fields.Left(c.Body);
        var promptName = Fields.String(c.Body, "prompt_name");
        c.Model.PromptText(promptName);                                            // an unknown name fails before any work
        c.Timing.Characters = items.Sum(i => i.Characters);
        c.Metrics.EmbedCount.Inc(items.Count);
        var outputs = await Inference.RunAsync(c.State, c.Model, runner, items.Count, i => [EncodeItem(c, items[i], truncate, left, promptName)], c.Timing, c.Aborted);
        c.Metrics.EmbedSuccess.Inc(items.Count);
        c.Metrics.RequestSuccess.WithLabels(items.Count == 1 ? "single" : "batch").Inc();
        return outputs;
    }

    private static async Task<Action<Utf8JsonWriter>> EmbedAll(Call c)
    {
        c.PickModel();
        var (items, _) = Inputs(c);
        Require(c, c.Model.Kind == ModelKind.Embedding, "it has no token embeddings");
        var outputs = await PerInputRowsAsync(c, items, c.Model.EmbedAllRunner!);
        return w =>
        {
            w.WriteStartArray();
            foreach (var o in outputs)
            {
                w.WriteStartArray();
                foreach (var token in (float[][])o[0]) w.WriteFloats(token);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        };
    }

    private static async Task<Action<Utf8JsonWriter>> EmbedSparse(Call c)
    {
        c.PickModel();
        var (items, _) = Inputs(c);
        Require(c, c.Model.Kind == ModelKind.Splade, "/embed_sparse needs a SPLADE model (an MLM head served with --pooling splade)");
        var outputs = await PerInputRowsAsync(c, items, c.Model.SparseRunner!);
        return w =>
        {
            w.WriteStartArray();
            foreach (var o in outputs)
            {
                w.WriteStartArray();
                foreach (var sv in (SparseValue[])o[0])
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", sv.Index);
                    w.WriteFloat("value", sv.Value);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
        };
    }

    /// <summary>TEI's predict input: a string, a pair [a, b], or a batch of [a] / [a, b] (and strings).</summary>
    private static (List<TextPair> Items, bool Batch) PredictInputs(Call c)
    {
        var v = Fields.Required(c.Body, "inputs");
        TextPair Seq(JsonElement e, string at)
        {
            if (e.ValueKind == JsonValueKind.String) return new TextPair(e.GetString()!);
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() is not (1 or 2) || e.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                throw Fields.Wrong(at, "a string or a pair of strings [string, string]", e);
            return new TextPair(e[0].GetString()!, e.GetArrayLength() == 2 ? e[1].GetString() : null);
        }
        List<TextPair> items;
        bool batch;
        if (v.ValueKind == JsonValueKind.String) { items = [new TextPair(v.GetString()!)]; batch = false; }
        else if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 && v[0].ValueKind == JsonValueKind.String)
        {
            if (v.GetArrayLength() > 2 || v.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                throw Fields.Wrong("inputs", "a string, a pair of strings [string, string] or a batch of mixed strings and pairs [[string], [string, string], ...]", v);
            items = [Seq(v, "inputs")];
            batch = false;
        }
        else if (v.ValueKind == JsonValueKind.Array) { items = v.EnumerateArray().Select((e, i) => Seq(e, $"inputs[{i}]")).ToList(); batch = true; }
        else throw Fields.Wrong("inputs", "a string, a pair of strings [string, string] or a batch of mixed strings and pairs [[string], [string, string], ...]", v);
        CheckBatch(c, items.Count, "inputs");
        return (items, batch);
    }

    private static async Task<List<(BertEncoding Row, float[] Logits)>> LogitsAsync(Call c, List<TextPair> items, bool truncate, bool left)
    {
        var encodings = new BertEncoding[items.Count];
        c.Timing.Characters = items.Sum(p => (long)p.Text.EnumerateRunes().Count() + (p.Pair?.EnumerateRunes().Count() ?? 0));
        c.Metrics.PredictCount.Inc(items.Count);
        var outputs = await Inference.RunAsync(c.State, c.Model, c.Model.ClassifyRunner!, items.Count,
            i => [encodings[i] = c.Model.Encode(items[i].Text, items[i].Pair, truncate, left)], c.Timing, c.Aborted);
        c.Metrics.PredictSuccess.Inc(items.Count);
        ObserveTask(c, c.Metrics.PredictDuration, c.Metrics.PredictTokenization, c.Metrics.PredictQueue, c.Metrics.PredictInference);
        return outputs.Select((o, i) => (encodings[i], (float[])o[0])).ToList();
    }

    private static async Task<Action<Utf8JsonWriter>> Predict(Call c)
    {
        c.PickModel();
        var (items, batch) = PredictInputs(c);
        Require(c, c.Model.Classifier is not null, "/predict needs a sequence-classification model");
        var truncate = Fields.Bool(c.Body, "truncate") ?? c.Options.AutoTruncate;
        var raw = Fields.Bool(c.Body, "raw_scores") ?? false;
        var logits = await LogitsAsync(c, items, truncate, Fields.Left(c.Body));
        var p = new TextClassificationParams { TopK = null, Function = raw ? ClassificationFunction.None : null };
        var results = items.Select((item, i) => c.Model.Classifier!.Finish(item, [logits[i].Row], [logits[i].Logits], p)).ToList();
        c.Metrics.RequestSuccess.WithLabels(batch ? "batch" : "single").Inc();
        return w =>
        {
            void One(IReadOnlyList<LabelScore> r)
            {
                w.WriteStartArray();
                foreach (var s in r)
                {
                    w.WriteStartObject();
                    w.WriteFloat("score", (float)s.Score);
                    w.WriteString("label", s.Label);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (!batch) One(results[0]);
            else { w.WriteStartArray(); foreach (var r in results) One(r); w.WriteEndArray(); }
        };
    }

    private static async Task<Action<Utf8JsonWriter>> Rerank(Call c)
    {
        c.PickModel();
        var query = Fields.RequiredString(c.Body, "query");
        var texts = Fields.Strings(c.Body, "texts");
        CheckBatch(c, texts.Count, "texts");
        Require(c, c.Model.Kind == ModelKind.Reranker, "/rerank needs a re-ranker (a sequence classifier with one label)");
        var truncate = Fields.Bool(c.Body, "truncate") ?? c.Options.AutoTruncate;
        var raw = Fields.Bool(c.Body, "raw_scores") ?? false;
        var returnText = Fields.Bool(c.Body, "return_text") ?? false;
        var scores = await RerankScoresAsync(c, query, texts, truncate, Fields.Left(c.Body), raw);
        c.Metrics.RequestSuccess.WithLabels("batch").Inc();
        var order = Enumerable.Range(0, texts.Count).OrderByDescending(i => scores[i]).ToList();
        return w =>
        {
            w.WriteStartArray();
            foreach (var i in order)
            {
                w.WriteStartObject();
                w.WriteNumber("index", i);
                if (returnText) w.WriteString("text", texts[i]);
                w.WriteFloat("score", scores[i]);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        };
    }

    private static async Task<float[]> RerankScoresAsync(Call c, string query, List<string> texts, bool truncate, bool left, bool raw)
    {
        var logits = await LogitsAsync(c, texts.Select(t => new TextPair(query, t)).ToList(), truncate, left);
        return logits.Select(l => raw ? l.Logits[0] : 1f / (1f + MathF.Exp(-l.Logits[0]))).ToArray();
    }

    private static async Task<Action<Utf8JsonWriter>> Similarity(Call c)
    {
        c.PickModel();
        var inputs = Fields.Required(c.Body, "inputs");
        if (inputs.ValueKind != JsonValueKind.Object) throw Fields.Wrong("inputs", "an object {\"source_sentence\", \"sentences\"}", inputs);
        var source = Fields.RequiredString(inputs, "source_sentence");
        var sentences = Fields.Strings(inputs, "sentences");
        if (sentences.Count == 0) throw new ApiException(ErrorKind.Empty, "`inputs.sentences` cannot be empty", "inputs.sentences");
        CheckBatch(c, sentences.Count + 1, "inputs.sentences");
        var parameters = Fields.Get(c.Body, "parameters");
        if (parameters is { ValueKind: not JsonValueKind.Object }) throw Fields.Wrong("parameters", "an object", parameters.Value);
        var truncate = (parameters is { } p1 ? Fields.Bool(p1, "truncate") : null) ?? c.Options.AutoTruncate;
        var left = parameters is { } p2 && Fields.Left(p2);
        var promptName = parameters is { } p3 ? Fields.String(p3, "prompt_name") : null;
        var items = new List<Item> { new(source, null) };
        items.AddRange(sentences.Select(s => new Item(s, null)));
        var vectors = await PooledAsync(c, items, truncate, left, promptName, normalize: false, dimensions: null);
        c.Metrics.RequestSuccess.WithLabels("batch").Inc();
        var sims = vectors.Skip(1).Select(v => (float)Pipelines.Similarity.Cosine(vectors[0], v)).ToList();
        return w => { w.WriteStartArray(); foreach (var s in sims) w.WriteFloat(s); w.WriteEndArray(); };
    }

    private static Task<Action<Utf8JsonWriter>> Tokenize(Call c)
    {
        c.PickModel();
        var v = Fields.Required(c.Body, "inputs");
        List<string> texts;
        if (v.ValueKind == JsonValueKind.String) texts = [v.GetString()!];
        else if (v.ValueKind == JsonValueKind.Array) texts = Fields.Strings(c.Body, "inputs");
        else throw Fields.Wrong("inputs", "a string or a list of strings", v);
        CheckBatch(c, texts.Count, "inputs");
        var special = Fields.Bool(c.Body, "add_special_tokens") ?? true;
        var prompt = c.Model.PromptText(Fields.String(c.Body, "prompt_name"));
        var encoded = texts.Select(t =>
        {
            var input = prompt is null ? t : prompt + t;
            return (input, c.Model.Tokenizer.Encode(input, null, new EncodeOptions { AddSpecialTokens = special }));
        }).ToList();
        return Task.FromResult<Action<Utf8JsonWriter>>(w =>
        {
            w.WriteStartArray();
            foreach (var (input, e) in encoded)
            {
                w.WriteStartArray();
                for (int k = 0; k < e.Length; k++)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", e.InputIds[k]);
                    var isSpecial = e.SpecialTokensMask[k] == 1;
                    if (isSpecial)
                    {
                        w.WriteString("text", e.Tokens[k]);
                        w.WriteBoolean("special", true);
                        w.WriteNull("start");
                        w.WriteNull("stop");
                    }
                    else
                    {
                        // TEI reports UTF-8 byte offsets (the Rust tokenizer's) and the text between them.
                        var (s, t) = e.Offsets[k];
                        w.WriteString("text", input[s..t]);
                        w.WriteBoolean("special", false);
                        w.WriteNumber("start", System.Text.Encoding.UTF8.GetByteCount(input.AsSpan(0, s)));
                        w.WriteNumber("stop", System.Text.Encoding.UTF8.GetByteCount(input.AsSpan(0, t)));
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
        });
    }

    private static Task<Action<Utf8JsonWriter>> Decode(Call c)
    {
        c.PickModel();
        var v = Fields.Required(c.Body, "ids");
        List<long[]> rows;
        if (v.ValueKind != JsonValueKind.Array) throw Fields.Wrong("ids", "a list of token ids or a list of lists", v);
        if (v.GetArrayLength() > 0 && v[0].ValueKind == JsonValueKind.Array) rows = v.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.Array ? Ids(e, $"ids[{i}]") : throw Fields.Wrong($"ids[{i}]", "a list of token ids", e)).ToList();
        else rows = [Ids(v, "ids")];
        CheckBatch(c, rows.Count, "ids");
        var skip = Fields.Bool(c.Body, "skip_special_tokens") ?? true;
        var texts = rows.Select((r, i) =>
        {
            foreach (var id in r)
                if (id >= c.Model.Tokenizer.VocabSize) throw new ApiException(ErrorKind.Validation, $"`ids[{i}]`: token id {id} is outside the vocabulary (0..{c.Model.Tokenizer.VocabSize - 1})", "ids");
            return c.Model.Tokenizer.Decode(r, skip);
        }).ToList();
        return Task.FromResult<Action<Utf8JsonWriter>>(w => { w.WriteStartArray(); foreach (var t in texts) w.WriteStringValue(t); w.WriteEndArray(); });
    }

    private static async Task<Action<Utf8JsonWriter>> OpenAIEmbed(Call c)
    {
        c.PickModel();
        var (items, _) = Inputs(c, "input");
        var format = Fields.String(c.Body, "encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw new ApiException(ErrorKind.Validation, $"`encoding_format`: unknown variant `{format}`, expected `float` or `base64`", "encoding_format");
        var vectors = await PooledAsync(c, items, c.Options.AutoTruncate, false, null, true, Fields.Int(c.Body, "dimensions", 0));
        c.Metrics.RequestSuccess.WithLabels(items.Count == 1 ? "single" : "batch").Inc();
        var tokens = c.Timing.Tokens;
        return w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (int i = 0; i < vectors.Length; i++)
            {
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WritePropertyName("embedding");
                if (format == "base64")
                {
                    var bytes = new byte[vectors[i].Length * 4];
                    for (int k = 0; k < vectors[i].Length; k++) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(k * 4), vectors[i][k]);
                    w.WriteStringValue(Convert.ToBase64String(bytes));
                }
                else w.WriteFloats(vectors[i]);
                w.WriteNumber("index", i);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", c.Model.Name);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", tokens);
            w.WriteNumber("total_tokens", tokens);
            w.WriteEndObject();
            w.WriteEndObject();
        };
    }

    private static Task<Action<Utf8JsonWriter>> Natural(Call c) => c.State.Default.Kind switch
    {
        ModelKind.Embedding => Embed(c),
        ModelKind.Splade => EmbedSparse(c),
        ModelKind.Classifier => Predict(c),
        ModelKind.Reranker => Rerank(c),
        ModelKind.TokenClassification => TokenClassification(c),
        _ => QuestionAnswering(c),
    };

    // ---------------------------------------------------------------- beyond TEI

    private static async Task<Action<Utf8JsonWriter>> CohereRerank(Call c)
    {
        c.PickModel();
        var query = Fields.RequiredString(c.Body, "query");
        var docs = Fields.Required(c.Body, "documents");
        if (docs.ValueKind != JsonValueKind.Array) throw Fields.Wrong("documents", "a list of strings", docs);
        var texts = docs.EnumerateArray().Select((d, i) => d.ValueKind switch
        {
            JsonValueKind.String => d.GetString()!,
            JsonValueKind.Object when Fields.Get(d, "text") is { ValueKind: JsonValueKind.String } t => t.GetString()!,
            _ => throw Fields.Wrong($"documents[{i}]", "a string (or {\"text\": string})", d),
        }).ToList();
        CheckBatch(c, texts.Count, "documents");
        Require(c, c.Model.Kind == ModelKind.Reranker, "/v2/rerank needs a re-ranker (a sequence classifier with one label)");
        var topN = Fields.Int(c.Body, "top_n", 1);
        var returnDocuments = Fields.Bool(c.Body, "return_documents") ?? false;
        var scores = await RerankScoresAsync(c, query, texts, c.Options.AutoTruncate, false, raw: false);
        c.Metrics.RequestSuccess.WithLabels("batch").Inc();
        var order = Enumerable.Range(0, texts.Count).OrderByDescending(i => scores[i]).Take(topN ?? texts.Count).ToList();
        return w =>
        {
            w.WriteStartObject();
            w.WriteString("id", Guid.NewGuid().ToString());
            w.WriteStartArray("results");
            foreach (var i in order)
            {
                w.WriteStartObject();
                w.WriteNumber("index", i);
                w.WriteFloat("relevance_score", scores[i]);
                if (returnDocuments) { w.WriteStartObject("document"); w.WriteString("text", texts[i]); w.WriteEndObject(); }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("meta");
            w.WriteStartObject("api_version"); w.WriteString("version", "2"); w.WriteEndObject();
            w.WriteStartObject("billed_units"); w.WriteNumber("search_units", 1); w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        };
    }

    private static (List<string> Texts, bool Batch) TextInputs(Call c)
    {
        var v = Fields.Required(c.Body, "inputs");
        List<string> texts;
        bool batch;
        if (v.ValueKind == JsonValueKind.String) { texts = [v.GetString()!]; batch = false; }
        else if (v.ValueKind == JsonValueKind.Array) { texts = Fields.Strings(c.Body, "inputs"); batch = true; }
        else throw Fields.Wrong("inputs", "a string or a list of strings", v);
        CheckBatch(c, texts.Count, "inputs");
        c.Timing.Characters = texts.Sum(t => (long)t.EnumerateRunes().Count());
        return (texts, batch);
    }

    private static JsonElement? Parameters(Call c)
    {
        var p = Fields.Get(c.Body, "parameters");
        if (p is { ValueKind: not JsonValueKind.Object }) throw Fields.Wrong("parameters", "an object", p.Value);
        return p;
    }

    private static async Task<Action<Utf8JsonWriter>> TokenClassification(Call c)
    {
        c.PickModel();
        var (texts, batch) = TextInputs(c);
        Require(c, c.Model.Ner is not null, "/token_classification needs a token-classification model");
        var p = Parameters(c);
        var strategy = (p is { } a ? Fields.String(a, "aggregation_strategy") : null) ?? "none";
        var parameters = new TokenClassificationParams
        {
            Aggregation = strategy.ToLowerInvariant() switch
            {
                "none" => AggregationStrategy.None,
                "simple" => AggregationStrategy.Simple,
                "first" => AggregationStrategy.First,
                "average" => AggregationStrategy.Average,
                "max" => AggregationStrategy.Max,
                _ => throw new ApiException(ErrorKind.Validation, $"`parameters.aggregation_strategy`: unknown `{strategy}`, expected none, simple, first, average or max", "parameters.aggregation_strategy"),
            },
            IgnoreLabels = p is { } b && Fields.Get(b, "ignore_labels") is not null ? Fields.Strings(b, "ignore_labels") : null,
            Stride = p is { } s ? Fields.Int(s, "stride", 0) : null,
        };
        var pipe = c.Model.Ner!;
        var rows = new IReadOnlyList<BertEncoding>[texts.Count];
        var outputs = await Inference.RunAsync(c.State, c.Model, c.Model.NerRunner!, texts.Count, i => rows[i] = pipe.Prepare(texts[i], parameters), c.Timing, c.Aborted);
        var results = texts.Select((t, i) => pipe.Finish(t, rows[i], outputs[i].Cast<float[][]>().ToList(), parameters)).ToList();
        c.Metrics.RequestSuccess.WithLabels(batch ? "batch" : "single").Inc();
        return w =>
        {
            void One(IReadOnlyList<TokenEntity> entities)
            {
                w.WriteStartArray();
                foreach (var e in entities)
                {
                    w.WriteStartObject();
                    if (e.EntityGroup is not null) w.WriteString("entity_group", e.EntityGroup); else w.WriteString("entity", e.Entity);
                    w.WriteFloat("score", (float)e.Score);
                    if (e.Index is int index) w.WriteNumber("index", index);
                    w.WriteString("word", e.Word);
                    w.WriteNumber("start", e.Start);
                    w.WriteNumber("end", e.End);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (!batch) One(results[0]);
            else { w.WriteStartArray(); foreach (var r in results) One(r); w.WriteEndArray(); }
        };
    }

    private static async Task<Action<Utf8JsonWriter>> QuestionAnswering(Call c)
    {
        c.PickModel();
        var v = Fields.Required(c.Body, "inputs");
        QuestionContext One(JsonElement e, string at) => e.ValueKind == JsonValueKind.Object
            ? new QuestionContext(Fields.RequiredString(e, "question"), Fields.RequiredString(e, "context"))
            : throw Fields.Wrong(at, "an object {\"question\", \"context\"}", e);
        var batch = v.ValueKind == JsonValueKind.Array;
        var items = batch ? v.EnumerateArray().Select((e, i) => One(e, $"inputs[{i}]")).ToList() : [One(v, "inputs")];
        CheckBatch(c, items.Count, "inputs");
        Require(c, c.Model.Qa is not null, "/question_answering needs a question-answering model");
        c.Timing.Characters = items.Sum(q => (long)q.Question.EnumerateRunes().Count() + q.Context.EnumerateRunes().Count());
        var p = Parameters(c);
        var parameters = new QuestionAnsweringParams
        {
            TopK = (p is { } a ? Fields.Int(a, "top_k", 1) : null) ?? 1,
            MaxAnswerLen = (p is { } b ? Fields.Int(b, "max_answer_len", 1) : null) ?? 15,
            MaxSeqLen = p is { } d ? Fields.Int(d, "max_seq_len", 4) : null,
            DocStride = p is { } e2 ? Fields.Int(e2, "doc_stride", 0) : null,
            HandleImpossibleAnswer = (p is { } f ? Fields.Bool(f, "handle_impossible_answer") : null) ?? false,
            AlignToWords = (p is { } g ? Fields.Bool(g, "align_to_words") : null) ?? true,
        };
        var pipe = c.Model.Qa!;
        var rows = new IReadOnlyList<BertEncoding>[items.Count];
        var outputs = await Inference.RunAsync(c.State, c.Model, c.Model.QaRunner!, items.Count, i => rows[i] = pipe.Prepare(items[i], parameters), c.Timing, c.Aborted);
        var results = items.Select((q, i) => pipe.Finish(q, rows[i], outputs[i].Cast<QuestionAnsweringPipeline.Row>().ToList(), parameters)).ToList();
        c.Metrics.RequestSuccess.WithLabels(batch ? "batch" : "single").Inc();
        return w =>
        {
            void Answer(QaAnswer a)
            {
                w.WriteStartObject();
                w.WriteFloat("score", (float)a.Score);
                w.WriteNumber("start", a.Start);
                w.WriteNumber("end", a.End);
                w.WriteString("answer", a.Answer);
                w.WriteEndObject();
            }
            void Result(IReadOnlyList<QaAnswer> r)
            {
                // HF: top_k = 1 → one answer object, else a list
                if (parameters.TopK == 1 && r.Count == 1) Answer(r[0]);
                else { w.WriteStartArray(); foreach (var a in r) Answer(a); w.WriteEndArray(); }
            }
            if (!batch) Result(results[0]);
            else { w.WriteStartArray(); foreach (var r in results) Result(r); w.WriteEndArray(); }
        };
    }

    private static async Task<Action<Utf8JsonWriter>> ZeroShot(Call c)
    {
        c.PickModel();
        var (texts, batch) = TextInputs(c);
        Require(c, c.Model.ZeroShot is not null, "/zero_shot needs an NLI model (a sequence classifier with an entailment label)");
        var p = Parameters(c) ?? throw new ApiException(ErrorKind.Validation, "missing field `parameters.candidate_labels`", "parameters.candidate_labels");
        var labelsField = Fields.Required(p, "candidate_labels");
        var labels = labelsField.ValueKind == JsonValueKind.String
            ? labelsField.GetString()!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList()
            : Fields.Strings(p, "candidate_labels");
        if (labels.Count == 0) throw new ApiException(ErrorKind.Empty, "`parameters.candidate_labels` cannot be empty", "parameters.candidate_labels");
        var parameters = new ZeroShotParams
        {
            CandidateLabels = labels,
            HypothesisTemplate = Fields.String(p, "hypothesis_template") ?? "This example is {}.",
            MultiLabel = Fields.Bool(p, "multi_label") ?? false,
        };
        var pipe = c.Model.ZeroShot!;
        var rows = new IReadOnlyList<BertEncoding>[texts.Count];
        var outputs = await Inference.RunAsync(c.State, c.Model, c.Model.ZeroShotRunner!, texts.Count, i => rows[i] = pipe.Prepare(texts[i], parameters), c.Timing, c.Aborted);
        var results = texts.Select((t, i) => pipe.Finish(t, rows[i], outputs[i].Cast<float[]>().ToList(), parameters)).ToList();
        c.Metrics.RequestSuccess.WithLabels(batch ? "batch" : "single").Inc();
        return w =>
        {
            void One(ZeroShotResult r)
            {
                w.WriteStartObject();
                w.WriteString("sequence", r.Sequence);
                w.WriteStartArray("labels"); foreach (var l in r.Labels) w.WriteStringValue(l); w.WriteEndArray();
                w.WriteStartArray("scores"); foreach (var s in r.Scores) w.WriteFloat((float)s); w.WriteEndArray();
                w.WriteEndObject();
            }
            if (!batch) One(results[0]);
            else { w.WriteStartArray(); foreach (var r in results) One(r); w.WriteEndArray(); }
        };
    }

    // ---------------------------------------------------------------- /info

    private static void Info(Utf8JsonWriter w, ServerState state)
    {
        var m = state.Default;
        var o = state.Options;
        w.WriteStartObject();
        w.WriteString("model_id", m.Id);
        w.WriteNull("model_sha");
        w.WriteString("model_dtype", m.DType);
        w.WriteString("served_model_name", m.Name);
        w.WriteStartObject("model_type");
        w.WriteStartObject(m.TeiModelType);
        if (m.TeiModelType == "embedding") w.WriteString("pooling", m.Pooling);
        else
        {
            w.WriteStartObject("id2label");
            foreach (var (k, v) in m.Id2Label.OrderBy(kv => kv.Key)) w.WriteString(k.ToString(System.Globalization.CultureInfo.InvariantCulture), v);
            w.WriteEndObject();
            w.WriteStartObject("label2id");
            foreach (var (k, v) in m.Label2Id.OrderBy(kv => kv.Value)) w.WriteNumber(k, v);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteNumber("max_concurrent_requests", o.MaxConcurrentRequests);
        w.WriteNumber("max_input_length", m.MaxInputLength);
        w.WriteNumber("max_batch_tokens", o.MaxBatchTokens);
        if (o.MaxBatchRequests is int r) w.WriteNumber("max_batch_requests", r); else w.WriteNull("max_batch_requests");
        w.WriteNumber("max_client_batch_size", o.MaxClientBatchSize);
        w.WriteBoolean("auto_truncate", o.AutoTruncate);
        w.WriteNumber("tokenization_workers", 1);
        w.WriteString("version", typeof(Endpoints).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
        w.WriteNull("sha");
        w.WriteNull("docker_label");
        // Beyond TEI: every served model, so a multi-model server can be discovered.
        w.WriteStartArray("models");
        foreach (var s in state.Models)
        {
            w.WriteStartObject();
            w.WriteString("name", s.Name);
            w.WriteString("model_id", s.Id);
            w.WriteString("kind", s.Kind.ToString());
            w.WriteNumber("max_input_length", s.MaxInputLength);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
