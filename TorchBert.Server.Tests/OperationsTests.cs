using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;
using TorchBert.Checkpoints;
using TorchBert.Server;
using static TorchSharp.torch;

namespace TorchBert.Server.Tests;

/// <summary>Every log call the server makes: category, level, message, structured state and exception.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public sealed record Entry(string Category, LogLevel Level, string Message, IReadOnlyList<KeyValuePair<string, object?>> State, Exception? Exception);

    public ConcurrentQueue<Entry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue(new Entry(category, logLevel, formatter(state, exception),
                state as IReadOnlyList<KeyValuePair<string, object?>> ?? [new("state", state?.ToString())], exception));
    }
}

/// <summary>Logging, the api key's 401 bodies and --dtype: the operations side of <c>torchbert serve</c>.</summary>
public sealed class OperationsTests
{
    [Fact]
    public async Task A_request_is_one_structured_log_line_with_its_timings_and_never_its_text()
    {
        var logs = new CapturingLoggerProvider();
        var state = TorchBertServer.CreateState(new ServerOptions { Models = [new ModelSpec(null, "minilm")] });
        await using var app = TorchBertServer.Build(state, b =>
        {
            b.WebHost.UseTestServer();
            b.Logging.SetMinimumLevel(LogLevel.Trace);
            b.Logging.AddProvider(logs);
        });
        try
        {
            await app.StartAsync();
            using var client = app.GetTestClient();
            const string text = "Xylophone quokkas juggle marmalade";
            var tokenizer = state.Models[0].Tokenizer;
            var encoding = tokenizer.Encode(text);
            var (status, _, response) = await client.PostAsync("/embed", JsonSerializer.Serialize(new { inputs = text }));
            status.Should().Be(HttpStatusCode.OK);
            await app.StopAsync();

            var entries = logs.Entries.ToList();
            var requests = entries.Where(e => e.State.Any(kv => kv.Key == "Path")).ToList();
            requests.Should().ContainSingle("one line per request");
            var line = requests[0];
            line.Level.Should().Be(LogLevel.Information);
            var fields = line.State.ToDictionary(kv => kv.Key, kv => kv.Value);
            fields["Method"].Should().Be("POST");
            fields["Path"].Should().Be("/embed");
            fields["Status"].Should().Be(200);
            fields["Model"].Should().Be("minilm");
            fields["Inputs"].Should().Be(1);
            fields["Tokens"].Should().Be(encoding.Length);
            response.Headers.GetValues("x-compute-tokens").Single().Should().Be(encoding.Length.ToString());
            foreach (var timing in new[] { "Total", "Tokenization", "Queue", "Inference" })
                fields[timing].Should().BeOfType<double>().Which.Should().BeGreaterThanOrEqualTo(0, timing);
            ((double)fields["Total"]!).Should().BeGreaterThan(0);
            ((double)fields["Inference"]!).Should().BeGreaterThan(0);
            line.Message.Should().Contain("/embed").And.Contain("200").And.Contain("model=minilm").And.Contain("inputs=1").And.Contain($"tokens={encoding.Length}")
                .And.Contain("total_ms=").And.Contain("tokenization_ms=").And.Contain("queue_ms=").And.Contain("inference_ms=");

            // neither the text, its words, its tokens nor its ids appear anywhere in what was logged
            string[] words = ["xylophone", "quokka", "juggle", "marmalade"];
            var tokens = encoding.Tokens.Where(t => t.TrimStart('#').Length >= 4 && !t.StartsWith('[')).ToArray();
            tokens.Should().NotBeEmpty();
            var ids = encoding.InputIds.Skip(1).SkipLast(1).ToArray();
            string[] idForms = [string.Join(" ", ids), string.Join(",", ids), string.Join(", ", ids)];
            entries.Should().NotBeEmpty();
            foreach (var e in entries)
            {
                var everything = string.Join("\n", [e.Message, .. e.State.Select(kv => $"{kv.Key}={kv.Value}"), e.Exception?.ToString() ?? ""]);
                foreach (var secret in words.Concat(tokens).Concat(idForms))
                    everything.Should().NotContainEquivalentOf(secret, $"{e.Category} logged '{e.Message}'");
            }
        }
        finally
        {
            state.Dispose();
        }
    }

    [Fact]
    public async Task A_wrong_api_key_is_401_in_each_apis_own_error_shape()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(null, "minilm")], ApiKey = "s3cret" });
        async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> Post(string route, object body)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", "wrong");
            var response = await server.Client.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
        }

        // TEI: 401, no body
        var tei = await Post("/embed", new { inputs = "a" });
        tei.Status.Should().Be(HttpStatusCode.Unauthorized);
        tei.Body.Should().BeEmpty();

        // OpenAI: {"error": {"message", "type", "param", "code": "invalid_api_key"}}, as api.openai.com answers a bad key
        var openAI = await Post("/v1/embeddings", new { input = "a" });
        openAI.Status.Should().Be(HttpStatusCode.Unauthorized);
        openAI.Response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        var error = JsonDocument.Parse(openAI.Body).RootElement.GetProperty("error");
        error.EnumerateObject().Select(p => p.Name).Should().Equal("message", "type", "param", "code");
        error.GetProperty("message").GetString().Should().StartWith("Incorrect API key provided");
        error.GetProperty("type").GetString().Should().Be("invalid_request_error");
        error.GetProperty("param").ValueKind.Should().Be(JsonValueKind.Null);
        error.GetProperty("code").GetString().Should().Be("invalid_api_key");

        // Cohere: {"message": ...} only, as its other errors on this route
        var cohere = await Post("/v2/rerank", new { query = "q", documents = new[] { "a" } });
        cohere.Status.Should().Be(HttpStatusCode.Unauthorized);
        cohere.Response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        var message = JsonDocument.Parse(cohere.Body).RootElement;
        message.EnumerateObject().Select(p => p.Name).Should().Equal("message");
        message.GetProperty("message").GetString().Should().Be("invalid api token");
    }

    [Theory]
    // TEI's DTYPE / --dtype values (clap's value names of its DType enum) and the aliases torch users write
    [InlineData("float32", ScalarType.Float32)]
    [InlineData("float16", ScalarType.Float16)]
    [InlineData("bfloat16", ScalarType.BFloat16)]
    [InlineData("bf16", ScalarType.BFloat16)]
    [InlineData("fp16", ScalarType.Float16)]
    [InlineData("half", ScalarType.Float16)]
    [InlineData("torch.bfloat16", ScalarType.BFloat16)]
    [InlineData("BF16", ScalarType.BFloat16)]
    public void Dtype_parses_as_the_library_does_from_the_option_and_TEIs_DTYPE(string value, ScalarType expected)
    {
        DTypeNames.TryParse(value, out var library).Should().BeTrue();
        library.Should().Be(expected);
        new ServerOptions { DType = value }.ParseDType().Should().Be(expected);
        var fromEnv = ServerOptions.FromEnvironment(new ServerOptions(), n => n == "DTYPE" ? value : null);
        fromEnv.DType.Should().Be(value);
        fromEnv.ParseDType().Should().Be(expected);
        fromEnv.Invoking(o => o.Validate()).Should().NotThrow();
    }

    [Fact]
    public void A_bad_dtype_is_a_clear_error_naming_the_accepted_values()
    {
        var act = () => ServerOptions.FromEnvironment(new ServerOptions(), n => n == "DTYPE" ? "float8" : null).Validate();
        var message = act.Should().Throw<ArgumentException>().Which.Message;
        message.Should().Contain("--dtype").And.Contain("'float8'");
        foreach (var name in new[] { "float32", "float16", "bfloat16", "bf16", "fp16" }) message.Should().Contain(name);
    }

    [Fact]
    public async Task A_bf16_model_is_served_in_bfloat16()
    {
        await using var server = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(TestModels.Classifier, "classifier")], DType = "bf16" });
        server.State.Models[0].DType.Should().Be("bfloat16");
        var info = JsonDocument.Parse(await server.Client.GetStringAsync("/info")).RootElement;
        info.GetProperty("model_dtype").GetString().Should().Be("bfloat16");
        (await server.Client.PostAsync("/predict", JsonSerializer.Serialize(new { inputs = "a" }))).Status.Should().Be(HttpStatusCode.OK);
    }
}
