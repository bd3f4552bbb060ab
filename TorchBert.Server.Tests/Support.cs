using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using TorchBert.Loading;
using TorchBert.Pipelines;
using TorchBert.Server;

namespace TorchBert.Server.Tests;

/// <summary>Model folders for the server tests, made from the library's tiny task fixtures (linked into Fixtures/).</summary>
public static class TestModels
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, string> Made = [];

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>The embedded all-MiniLM-L6-v2 (imported once into the default weights folder).</summary>
    public static string MiniLM => DefaultModel.EnsureInstalled();

    /// <summary>
    /// A fixture folder with a vocabulary: tiny-bert-seqcls/tokcls have 2000 ids and no vocab.txt, so they get the first
    /// 2000 lines of tiny-bert-mlm's (bert-base-uncased) vocab.txt, as the library's pipeline tests do.
    /// </summary>
    public static string Folder(string fixture, string variant = "", Action<JsonObject>? editConfig = null, Func<string, byte[]>? weights = null)
    {
        lock (Gate)
        {
            var key = fixture + "/" + variant;
            if (Made.TryGetValue(key, out var done)) return done;
            var src = Fixture(fixture);
            var dir = Path.Combine(Path.GetTempPath(), $"torchbert-server-{fixture}-{variant}-{Environment.ProcessId}");
            Directory.CreateDirectory(dir);
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>   // lives as long as the test process, then goes
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            };
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(src, "config.json")))!.AsObject();
            editConfig?.Invoke(config);
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
            var model = Path.Combine(src, "model.safetensors");
            File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), weights is null ? File.ReadAllBytes(model) : weights(model));
            if (File.Exists(Path.Combine(src, "vocab.txt"))) File.Copy(Path.Combine(src, "vocab.txt"), Path.Combine(dir, "vocab.txt"), overwrite: true);
            else File.WriteAllLines(Path.Combine(dir, "vocab.txt"), File.ReadLines(Path.Combine(Fixture("tiny-bert-mlm"), "vocab.txt")).Take(2000));
            Made[key] = dir;
            return dir;
        }
    }

    public static string Classifier => Folder("tiny-bert-seqcls");
    public static string Ner => Folder("tiny-bert-tokcls");
    public static string Qa => Folder("tiny-bert-qa");
    public static string Mlm => Folder("tiny-bert-mlm");

    /// <summary>tiny-bert-seqcls relabelled as an NLI model (contradiction / neutral / entailment).</summary>
    public static string Nli => Folder("tiny-bert-seqcls", "nli", c =>
    {
        string[] labels = ["contradiction", "neutral", "entailment"];
        c["id2label"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(i.ToString(), (JsonNode?)l)));
        c["label2id"] = new JsonObject(labels.Select((l, i) => KeyValuePair.Create(l, (JsonNode?)i)));
    });

    /// <summary>A one-label cross-encoder: tiny-bert-seqcls with its classifier cut to the first label's row.</summary>
    public static string Reranker => Folder("tiny-bert-seqcls", "reranker", c =>
    {
        c["id2label"] = new JsonObject { ["0"] = "LABEL_0" };
        c["label2id"] = new JsonObject { ["LABEL_0"] = 0 };
    }, FirstLabelOnly);

    /// <summary>Rewrites a safetensors file with classifier.weight (L, H) → (1, H) and classifier.bias (L) → (1).</summary>
    private static byte[] FirstLabelOnly(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        var data = bytes.AsSpan(8 + n);
        var outHeader = new JsonObject();
        var body = new MemoryStream();
        foreach (var (name, node) in header.OrderBy(kv => kv.Key == "__metadata__" ? "" : kv.Key))
        {
            if (name == "__metadata__") { outHeader[name] = node!.DeepClone(); continue; }
            var shape = node!["shape"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            var offsets = node["data_offsets"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            var slice = data[(int)offsets[0]..(int)offsets[1]];
            if (name is "classifier.weight" or "classifier.bias")
            {
                var per = slice.Length / (int)shape[0];
                slice = slice[..per];
                shape[0] = 1;
            }
            var start = body.Length;
            body.Write(slice);
            outHeader[name] = new JsonObject
            {
                ["dtype"] = node["dtype"]!.GetValue<string>(),
                ["shape"] = new JsonArray(shape.Select(s => (JsonNode?)s).ToArray()),
                ["data_offsets"] = new JsonArray(start, body.Length),
            };
        }
        var headerBytes = Encoding.UTF8.GetBytes(outHeader.ToJsonString());
        var result = new byte[8 + headerBytes.Length + body.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)headerBytes.Length);
        headerBytes.CopyTo(result, 8);
        body.ToArray().CopyTo(result, 8 + headerBytes.Length);
        return result;
    }
}

/// <summary>In-process servers on ASP.NET Core's TestServer.</summary>
public static class InProcess
{
    /// <summary>Loads <paramref name="options"/>' models and serves them on a TestServer; dispose the result to stop it.</summary>
    public static async Task<InProcessServer> StartAsync(ServerOptions options)
    {
        var state = TorchBertServer.CreateState(options);
        var app = TorchBertServer.Build(state, b => b.WebHost.UseTestServer());
        await app.StartAsync();
        return new InProcessServer(app, state);
    }
}

public sealed class InProcessServer(WebApplication app, ServerState state) : IAsyncDisposable
{
    public ServerState State { get; } = state;
    public HttpClient Client { get; } = app.GetTestClient();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        State.Dispose();
    }
}

/// <summary>HTTP helpers: post JSON, read status and JSON back.</summary>
public static class Http
{
    public static async Task<(HttpStatusCode Status, JsonElement Json, HttpResponseMessage Response)> PostAsync(this HttpClient client, string route, string json)
    {
        var response = await client.PostAsync(route, new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        var parsed = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, parsed, response);
    }

    public static async Task<string> RawAsync(this HttpClient client, string route, string json)
    {
        var response = await client.PostAsync(route, new StringContent(json, Encoding.UTF8, "application/json"));
        return await response.Content.ReadAsStringAsync();
    }

    public static float[] Floats(this JsonElement e) => e.EnumerateArray().Select(x => x.GetSingle()).ToArray();

    public static void ShouldEqual(this float[] actual, float[] expected, double tolerance = 1e-5)
    {
        actual.Length.Should().Be(expected.Length);
        for (int i = 0; i < actual.Length; i++) ((double)actual[i]).Should().BeApproximately(expected[i], tolerance, $"element {i}");
    }
}

/// <summary>The real <c>torchbert</c> program, started as a process (SIGTERM drain, startup failure).</summary>
public static class CliProcess
{
    public static string DllPath { get; } =
        typeof(CliProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TorchBertCli").Value!;

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(DllPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["TORCHBERT_WEIGHTS"] = DefaultModel.WeightsRoot();
        foreach (var v in new[] { "PORT", "HOSTNAME", "API_KEY", "MODEL_ID", "MAX_BATCH_TOKENS", "MAX_CONCURRENT_REQUESTS", "TORCHBERT_DEBUG" })
            start.Environment.Remove(v);
        return Process.Start(start)!;
    }
}

/// <summary>
/// sentence-transformers model folders for the server: tiny-bert-mlm's weights and vocabulary with the given
/// sentence-transformers files, built as the library's <c>StFolders</c> (TorchBert.Tests) builds them.
/// </summary>
public static class StTestFolders
{
    /// <summary>A folder named <paramref name="variant"/> with <paramref name="files"/> (relative path → JSON value) written into it.</summary>
    public static string Folder(string variant, params (string File, object Json)[] files)
    {
        var dir = TestModels.Folder("tiny-bert-mlm", "st-" + variant);
        foreach (var (file, json) in files)
        {
            var path = Path.Combine(dir, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, json as string ?? JsonSerializer.Serialize(json));
        }
        return dir;
    }

    /// <summary>modules.json: Transformer at the root, Pooling in 1_Pooling, Normalize in 2_Normalize when asked.</summary>
    public static object[] Modules(bool normalize) =>
    [
        new { idx = 0, name = "0", path = "", type = "sentence_transformers.models.Transformer" },
        new { idx = 1, name = "1", path = "1_Pooling", type = "sentence_transformers.models.Pooling" },
        .. normalize ? new object[] { new { idx = 2, name = "2", path = "2_Normalize", type = "sentence_transformers.models.Normalize" } } : [],
    ];

    /// <summary>1_Pooling/config.json with the given pooling_mode_* keys true (all six written, as sentence-transformers saves them).</summary>
    public static Dictionary<string, object> Pooling(params string[] modes)
    {
        var c = new Dictionary<string, object> { ["word_embedding_dimension"] = 32 };
        foreach (var key in new[] { "pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken" })
            c[key] = modes.Contains(key);
        return c;
    }
}
