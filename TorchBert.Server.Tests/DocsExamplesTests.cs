using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TorchBert.Server;

namespace TorchBert.Server.Tests;

/// <summary>Every curl line of docs/server.md and of the README, run against an in-process server (the model each route needs added as `model`).</summary>
public sealed partial class DocsExamplesTests(ServedModels m) : IClassFixture<ServedModels>
{
    [GeneratedRegex(@"^curl -s localhost:8080(?<route>/[a-z0-9_/]*)(?: -H '[^']*' -d '(?<body>.*)')?$")]
    private static partial Regex Curl();

    private static readonly Dictionary<string, string> ModelFor = new()
    {
        ["/predict"] = "classifier", ["/rerank"] = "reranker", ["/v2/rerank"] = "reranker", ["/token_classification"] = "ner",
        ["/question_answering"] = "qa", ["/zero_shot"] = "nli",
    };

    [Theory]
    [InlineData("docs/server.md")]
    [InlineData("README.md")]
    public async Task Every_route_of_the_docs_answers_its_curl_example(string page)
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, page))
            .Select(l => Curl().Match(l)).Where(x => x.Success).ToList();
        var routes = lines.Select(x => x.Groups["route"].Value).ToHashSet();
        foreach (var route in typeof(ServerRoutes).GetFields().Select(f => (string)f.GetValue(null)!).Where(r => r is not (ServerRoutes.OpenApi or ServerRoutes.Docs)))
            routes.Should().Contain(route, $"{page} has a curl line for each route");

        await using var splade = await InProcess.StartAsync(new ServerOptions { Models = [new ModelSpec(TestModels.Mlm)], Pooling = "splade" });
        foreach (var line in lines)
        {
            var route = line.Groups["route"].Value;
            var client = route == "/embed_sparse" ? splade.Client : m.Client;
            HttpResponseMessage response;
            if (!line.Groups["body"].Success) response = await client.GetAsync(route);
            else
            {
                var body = JsonNode.Parse(line.Groups["body"].Value)!.AsObject();
                if (ModelFor.TryGetValue(route, out var model)) body["model"] = model;
                response = await client.PostAsync(route, new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
            }
            response.StatusCode.Should().Be(HttpStatusCode.OK, $"{line.Value}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}
