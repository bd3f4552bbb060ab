using Microsoft.Extensions.Logging;
using NetArchTest.Rules;
using TorchBert.Hub;
using TorchBert.Modeling;
using TorchBert.Tests.Hub;
using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Architecture;

/// <summary>The library as a hosted service sees it: it reports only through the ILogger it is given and takes its HttpClient.</summary>
public sealed class HostingTests : IDisposable
{
    private readonly HubSandbox s = new();
    public void Dispose() => s.Dispose();

    [Fact]
    public void The_library_never_touches_the_console()
    {
        // IL-level: no type of TorchBert.Core references System.Console (stdout/stderr belong to the host)
        var result = Types.InAssembly(typeof(BertModel).Assembly).ShouldNot().HaveDependencyOn("System.Console").GetResult();
        result.IsSuccessful.Should().BeTrue($"offending types: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Load_reports_go_to_the_logger_as_hfs_warnings()
    {
        var log = new ListLogger();
        var dir = Fixtures.Dir("tiny-bert-mlm");
        using var clf = BertForSequenceClassification.FromPretrained(dir, new PretrainedOptions { Device = CPU, Logger = log });
        // transformers' modeling_utils: logger.warning("Some weights of {cls} were not initialized from the model checkpoint at
        // {path} and are newly initialized: {keys}\nYou should probably TRAIN this model ...") and the unused-weights warning
        var warnings = log.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message).ToList();
        warnings.Should().Contain(m => m.StartsWith($"Some weights of BertForSequenceClassification were not initialized from the model checkpoint at {dir} and are newly initialized: ")
                                       && m.Contains("classifier.weight") && m.Contains("classifier.bias") && m.Contains("You should probably TRAIN this model"));
        warnings.Should().Contain(m => m.StartsWith($"Some weights of the model checkpoint at {dir} were not used when initializing BertForSequenceClassification: ")
                                       && m.Contains("cls.predictions"));

        var quiet = new ListLogger();
        using var mlm = BertForMaskedLM.FromPretrained(dir, new PretrainedOptions { Device = CPU, Logger = quiet });
        quiet.Entries.Should().NotContain(e => e.Level >= LogLevel.Warning, "every weight of the MLM checkpoint has its place");
    }

    [Fact]
    public async Task The_hub_client_runs_on_an_injected_HttpClient_and_logs_downloads()
    {
        using var http = new HttpClient(HubClient.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        var log = new TypedListLogger<HubClient>();
        using (var client = new HubClient(http, s.Options(), log))
        {
            var folder = await client.DownloadModelAsync("org/tiny");
            File.Exists(Path.Combine(folder, "model.safetensors")).Should().BeTrue();
        }
        log.Inner.Entries.Should().Contain(e => e.Level == LogLevel.Information && e.Message.StartsWith("downloading org/tiny/model.safetensors"));
        // the client did not own the HttpClient: it still works after the client is disposed (as IHttpClientFactory expects)
        using var again = new HubClient(http, s.Options() with { CacheDir = Path.Combine(s.Root, "second-cache") });
        (await again.DownloadFileAsync("org/tiny", "config.json")).Should().EndWith("config.json");
    }

    private sealed class TypedListLogger<T> : ILogger<T>
    {
        public ListLogger Inner { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
