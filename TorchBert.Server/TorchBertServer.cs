using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Scalar.AspNetCore;
using TorchBert.Serving;

namespace TorchBert.Server;

/// <summary>
/// <c>torchbert serve</c>: loads the models, warms each up with a real forward, and serves TEI's routes (and more) on
/// Kestrel. <see cref="StartAsync"/> starts one in-process (port 0 picks a free port: tests and the benchmark);
/// <see cref="RunAsync"/> is the command (runs until SIGTERM/Ctrl-C, then drains).
/// </summary>
public sealed class TorchBertServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private TorchBertServer(WebApplication app, ServerState state, Uri address)
    {
        this.app = app;
        State = state;
        BaseAddress = address;
    }

    /// <summary>Where it listens (http://127.0.0.1:PORT/ for a loopback server).</summary>
    public Uri BaseAddress { get; }

    /// <summary>The models, permits and metrics.</summary>
    public ServerState State { get; }

    /// <summary>Loads every model of <paramref name="options"/> (the embedded default when none), starts their queues and warms them up.</summary>
    public static ServerState CreateState(ServerOptions options, ILogger? log = null)
    {
        options.Validate();
        var specs = options.Models.Count > 0 ? options.Models : [new ModelSpec(null)];
        var models = new List<ServedModel>();
        try
        {
            foreach (var spec in specs) models.Add(ServedModel.Load(spec, options, log));
            var metrics = new ServerMetrics(models.Max(m => m.MaxInputLength));
            var batching = new BatchingOptions { MaxBatchTokens = options.MaxBatchTokens, MaxBatchRequests = options.MaxBatchRequests };
            foreach (var m in models)
            {
                if (m.MaxInputLength > options.MaxBatchTokens)
                    throw new ArgumentException($"--max-batch-tokens {options.MaxBatchTokens} is below {m.Name}'s max input length {m.MaxInputLength}");
                m.Start(batching, metrics.ForQueue());
                var (runner, row) = m.WarmUpProbe();
                m.Queue.WarmUpAsync(new QueueEntry([row], runner)).GetAwaiter().GetResult();
            }
            return new ServerState(options, models, metrics);
        }
        catch
        {
            foreach (var m in models) m.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The web application over <paramref name="state"/> (not started). <paramref name="configure"/> may change the builder
    /// (tests use it to swap Kestrel for a TestServer); without it Kestrel listens on the options' hostname and port.
    /// </summary>
    public static WebApplication Build(ServerState state, Action<WebApplicationBuilder>? configure = null)
    {
        var options = state.Options;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(TorchBertServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(options.DrainTimeoutSeconds));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null; // the payload limit is checked while reading, with TEI's 413
            k.AddServerHeader = false;
            if (options.Hostname == "localhost") k.ListenLocalhost(options.Port);
            else if (IPAddress.TryParse(options.Hostname, out var ip)) k.Listen(ip, options.Port);
            else throw new ArgumentException($"--hostname '{options.Hostname}' is not an IP address or localhost");
        });
        builder.Services.AddOpenApi();
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        if (options.CorsAllowOrigin.Count > 0)
            builder.Services.AddCors(c => c.AddDefaultPolicy(p =>
            {
                if (options.CorsAllowOrigin.Contains("*")) p.AllowAnyOrigin(); else p.WithOrigins([.. options.CorsAllowOrigin]);
                p.AllowAnyHeader().AllowAnyMethod();
            }));
        configure?.Invoke(builder);

        var app = builder.Build();
        app.Lifetime.ApplicationStopping.Register(() => state.Draining = true);
        if (options.CorsAllowOrigin.Count > 0) app.UseCors();
        if (options.ApiKey is { Length: > 0 } key)
            app.Use(async (ctx, next) =>
            {
                if (Endpoints.IsOpen(ctx.Request) || Endpoints.Authorized(ctx.Request, key)) { await next(ctx); return; }
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                // TEI's routes: 401 with no body (as TEI); OpenAI's and Cohere's routes: their APIs' error bodies and wording
                switch (Endpoints.ShapeOf(ctx.Request.Path))
                {
                    case ErrorShape.OpenAI:
                        await Endpoints.WriteError(ctx, ErrorShape.OpenAI, new ApiException(ErrorKind.Unauthorized, "Incorrect API key provided"));
                        break;
                    case ErrorShape.Cohere:
                        await Endpoints.WriteError(ctx, ErrorShape.Cohere, new ApiException(ErrorKind.Unauthorized, "invalid api token"));
                        break;
                    default:
                        ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                        break;
                }
            });
        app.MapOpenApi();
        app.MapScalarApiReference(ServerRoutes.Docs);
        Endpoints.Map(app, state);
        return app;
    }

    /// <summary>Loads, warms up and starts a server (Kestrel on the options' hostname and port; port 0 = a free one).</summary>
    public static async Task<TorchBertServer> StartAsync(ServerOptions options, CancellationToken ct = default)
    {
        var state = CreateState(options);
        try
        {
            var app = Build(state);
            await app.StartAsync(ct);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new TorchBertServer(app, state, new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal) + "/"));
        }
        catch
        {
            state.Dispose();
            throw;
        }
    }

    /// <summary>Drains (in-flight and queued work finishes within the drain timeout) and stops.</summary>
    public async Task StopAsync()
    {
        State.Draining = true;
        await app.StopAsync();
    }

    /// <summary>Stops (draining) and frees the models.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await app.DisposeAsync();
        State.Dispose();
    }

    /// <summary>
    /// The command: load and warm up every model (a failure throws before anything listens), serve until SIGTERM or
    /// Ctrl-C, then drain: /health answers 503, new requests are refused, accepted ones finish, exit code 0.
    /// </summary>
    public static int Run(ServerOptions options)
    {
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; }));
        var log = loggerFactory.CreateLogger("TorchBert.Server");
        var state = CreateState(options, log);
        try
        {
            var app = Build(state);
            app.Lifetime.ApplicationStarted.Register(() =>
                log.LogInformation("Serving {Models} on {Addresses} (max batch tokens {Tokens}, max concurrent requests {Permits}); docs at {Docs}",
                    string.Join(", ", state.Models.Select(m => $"{m.Name} ({m.Kind})")), string.Join(", ", app.Urls), options.MaxBatchTokens, options.MaxConcurrentRequests, ServerRoutes.Docs));
            app.Lifetime.ApplicationStopping.Register(() => log.LogInformation("Draining: finishing accepted requests (at most {Seconds} s)", options.DrainTimeoutSeconds));
            app.Run();
            log.LogInformation("Stopped");
            return 0;
        }
        finally
        {
            state.Dispose();
        }
    }
}
