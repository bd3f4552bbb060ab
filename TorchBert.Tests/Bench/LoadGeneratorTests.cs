using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TorchBert.Bench;

namespace TorchBert.Tests.Bench;

/// <summary>
/// The server benchmark's load generator, against a trivial Kestrel endpoint on loopback whose answers are fixed by
/// request number: its accounting must match what the endpoint saw (no timings are asserted).
/// </summary>
public class LoadGeneratorTests
{
    [Fact]
    public void Bodies_are_TEI_embed_requests()
    {
        Encoding.UTF8.GetString(LoadGenerator.Body(["a \"b\""])).Should().Be("{\"inputs\":\"a \\u0022b\\u0022\"}");
        Encoding.UTF8.GetString(LoadGenerator.Body(["a", "b"])).Should().Be("{\"inputs\":[\"a\",\"b\"]}");
    }

    [Fact]
    public async Task Every_request_is_counted_once_as_ok_429_or_failure_within_the_concurrency()
    {
        int seen = 0, inFlight = 0, maxInFlight = 0, ok = 0, rejected = 0, failed = 0;
        var bodies = new System.Collections.Concurrent.ConcurrentBag<string>();
        await using var app = await Start(async ctx =>
        {
            var n = Interlocked.Increment(ref seen);
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            bodies.Add(await new StreamReader(ctx.Request.Body).ReadToEndAsync());
            await Task.Yield();
            Interlocked.Decrement(ref inFlight);
            if (n % 3 == 0) { Interlocked.Increment(ref rejected); ctx.Response.StatusCode = 429; }
            else if (n % 7 == 0) { Interlocked.Increment(ref failed); ctx.Response.StatusCode = 500; }
            else { Interlocked.Increment(ref ok); await ctx.Response.WriteAsync("[[0.5]]"); }
        });
        using var http = new HttpClient();
        var load = new LoadGenerator(http, Url(app), TimeSpan.FromMinutes(2));

        var r = await load.RunAsync([["one"], ["two", "three"]], concurrency: 4, maxRequests: 50, maxDuration: TimeSpan.FromMinutes(5));

        seen.Should().Be(50, "the count bounds the run");
        r.Sent.Should().Be(50);
        (r.Ok, r.Rejected, r.Failed, r.TimedOut).Should().Be((ok, rejected, failed, 0));
        (r.Ok + r.Rejected + r.Failed + r.TimedOut).Should().Be(r.Sent);
        rejected.Should().Be(16);
        failed.Should().Be(5); // 7, 14, 28, 35, 49 (21 and 42 are 429s)
        r.Failures.Should().Equal(new Dictionary<string, int> { ["HTTP 500"] = 5 });
        r.FailureSummary.Should().Be("HTTP 500×5");
        r.OkLatenciesMs.Should().HaveCount(r.Ok);
        r.RejectedLatenciesMs.Should().HaveCount(r.Rejected);
        r.MaxInFlight.Should().BeInRange(1, 4);
        maxInFlight.Should().BeLessThanOrEqualTo(4, "a closed loop never has more requests out than workers");
        bodies.Should().OnlyContain(b => b == "{\"inputs\":\"one\"}" || b == "{\"inputs\":[\"two\",\"three\"]}");
        bodies.Count(b => b.StartsWith("{\"inputs\":\"one", StringComparison.Ordinal)).Should().Be(25, "requests cycle through the inputs");
        r.Sentences.Should().BeInRange(r.Ok, 2L * r.Ok);
    }

    [Fact]
    public async Task A_request_with_no_answer_is_counted_as_timed_out_not_lost()
    {
        var never = new TaskCompletionSource();
        await using var app = await Start(async ctx => await Task.WhenAny(never.Task, Task.Delay(Timeout.Infinite, ctx.RequestAborted)));
        using var http = new HttpClient();
        var load = new LoadGenerator(http, Url(app), TimeSpan.FromMilliseconds(300));

        var r = await load.RunAsync([["x"]], concurrency: 2, maxRequests: 4, maxDuration: TimeSpan.FromMinutes(5));

        (r.Sent, r.Ok, r.Rejected, r.Failed, r.TimedOut).Should().Be((4, 0, 0, 0, 4));
        r.RequestsPerSecond.Should().Be(0);
        double.IsNaN(r.P50).Should().BeTrue("there is no successful latency to report");
        never.SetResult();
    }

    [Fact]
    public async Task Bad_arguments_are_refused()
    {
        using var http = new HttpClient();
        var load = new LoadGenerator(http, new Uri("http://127.0.0.1:9/"), TimeSpan.FromSeconds(1));
        await FluentActions.Awaiting(() => load.RunAsync([], 1, 1, TimeSpan.FromSeconds(1))).Should().ThrowAsync<ArgumentException>().WithMessage("no inputs*");
        await FluentActions.Awaiting(() => load.RunAsync([["x"]], 0, 1, TimeSpan.FromSeconds(1))).Should().ThrowAsync<ArgumentOutOfRangeException>();
    }

    private static async Task<WebApplication> Start(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapPost("/embed", handler);
        await app.StartAsync();
        return app;
    }

    private static Uri Url(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/embed");

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }
}
