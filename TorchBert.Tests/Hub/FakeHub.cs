using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace TorchBert.Tests.Hub;

/// <summary>One request the fake Hub saw: which host ("hub" or "cdn"), method, path, Authorization and Range headers.</summary>
public sealed record HubRequest(string Host, string Method, string Path, string? Authorization, string? Range)
{
    public override string ToString() => $"{Host} {Method} {Path}{(Range is null ? "" : $" [{Range}]")}{(Authorization is null ? "" : " [auth]")}";
}

/// <summary>A repo on the fake Hub: revisions → commits, files per commit, which files are LFS (served by the CDN).</summary>
public sealed class FakeRepo(string id)
{
    public string Id { get; } = id;
    public Dictionary<string, string> Refs { get; } = new();
    public Dictionary<string, Dictionary<string, byte[]>> Commits { get; } = new();
    public HashSet<string> Lfs { get; } = new();
    /// <summary>Gated: only this token may read the files.</summary>
    public string? GatedToken { get; set; }

    public string AddCommit(Dictionary<string, byte[]> files, string branch = "main")
    {
        var commit = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        Commits[commit] = files;
        Refs[branch] = commit;
        return commit;
    }
}

/// <summary>
/// An in-process stand-in for huggingface.co and its CDN on two 127.0.0.1 ports (so the CDN is another netloc), behaving
/// as the Hub does (hub-protocol.md): resolve HEAD/GET with X-Repo-Commit and ETag (git sha1) for git files; a 302 to
/// the CDN with X-Linked-Etag (sha256) and X-Linked-Size for LFS files; a 307 relative redirect for a renamed repo;
/// 401/403/404 with X-Error-Code; Range on GET; the repo info API. Faults: a body cut after N bytes, slow HEADs, corrupt
/// CDN bytes. Every request is recorded.
/// </summary>
public sealed class FakeHub : IDisposable
{
    private readonly TcpListener hub = new(IPAddress.Loopback, 0);
    private readonly TcpListener cdn = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentQueue<HubRequest> requests = new();
    private readonly ConcurrentDictionary<string, byte[]> blobs = new();

    public FakeHub()
    {
        hub.Start();
        cdn.Start();
        _ = Serve(hub, "hub");
        _ = Serve(cdn, "cdn");
    }

    public Uri Endpoint => new($"http://127.0.0.1:{((IPEndPoint)hub.LocalEndpoint).Port}");
    public int CdnPort => ((IPEndPoint)cdn.LocalEndpoint).Port;
    public Dictionary<string, FakeRepo> Repos { get; } = new();
    /// <summary>Old id → new id (the Hub answers a relative 307).</summary>
    public Dictionary<string, string> Renamed { get; } = new();
    public IReadOnlyList<HubRequest> Requests => requests.ToList();
    public void ClearRequests() => requests.Clear();

    /// <summary>The next CDN GET stops after this many body bytes (the connection is closed).</summary>
    public int DropNextCdnBodyAfter { get; set; } = -1;
    /// <summary>The next CDN GET stalls after this many body bytes (then hangs until the client gives up).</summary>
    public int StallNextCdnBodyAfter { get; set; } = -1;
    /// <summary>The next N HEADs wait <see cref="SlowDelay"/> before answering.</summary>
    public int SlowHeads { get; set; }
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromMilliseconds(500);
    /// <summary>The CDN flips a byte of everything it serves.</summary>
    public bool CorruptCdn { get; set; }

    public FakeRepo AddRepo(string id, Dictionary<string, byte[]> files, params string[] lfs)
    {
        var repo = new FakeRepo(id);
        repo.AddCommit(files);
        foreach (var f in lfs) repo.Lfs.Add(f);
        Repos[id] = repo;
        return repo;
    }

    public static string GitSha1(byte[] content)
    {
        var header = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        return Convert.ToHexStringLower(SHA1.HashData([.. header, .. content]));
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private async Task Serve(TcpListener listener, string host)
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try { await Handle(client, host); }
                    catch (IOException) { }
                    catch (SocketException) { }
                    catch (ObjectDisposedException) { }
                }
            });
        }
    }

    private sealed record Response(int Status, Dictionary<string, string> Headers, byte[] Body, int DropAfter = -1, int StallAfter = -1);

    private async Task Handle(TcpClient client, string host)
    {
        var stream = client.GetStream();
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) return;
            head.Append((char)one[0]);
        }
        var lines = head.ToString().Split("\r\n");
        var parts = lines[0].Split(' ');
        var headers = lines.Skip(1).Where(l => l.Contains(':')).ToDictionary(l => l[..l.IndexOf(':')].Trim().ToLowerInvariant(), l => l[(l.IndexOf(':') + 1)..].Trim());
        var request = new HubRequest(host, parts[0], parts[1], headers.GetValueOrDefault("authorization"), headers.GetValueOrDefault("range"));
        requests.Enqueue(request);

        if (request.Method == "HEAD" && SlowHeads > 0)
        {
            SlowHeads--;
            await Task.Delay(SlowDelay);
        }
        var response = host == "cdn" ? Cdn(request) : Hub(request);
        var sb = new StringBuilder($"HTTP/1.1 {response.Status} X\r\n");
        response.Headers.TryAdd("Content-Length", response.Body.Length.ToString());
        response.Headers["Connection"] = "close";
        foreach (var (k, v) in response.Headers) sb.Append($"{k}: {v}\r\n");
        sb.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()));
        if (request.Method != "HEAD")
        {
            var n = response.DropAfter >= 0 ? Math.Min(response.DropAfter, response.Body.Length) : response.Body.Length;
            if (response.StallAfter >= 0)
            {
                await stream.WriteAsync(response.Body.AsMemory(0, response.StallAfter));
                await stream.FlushAsync();
                await Task.Delay(TimeSpan.FromSeconds(5), stop.Token);   // the client's read timeout fires first
                return;
            }
            await stream.WriteAsync(response.Body.AsMemory(0, n));
            if (response.DropAfter >= 0) { await stream.FlushAsync(); client.Client.Shutdown(SocketShutdown.Both); return; }
        }
        await stream.FlushAsync();
    }

    private static Response Error(int status, string? code, string message, string? commit = null)
    {
        var h = new Dictionary<string, string> { ["X-Error-Message"] = message, ["Content-Type"] = "application/json" };
        if (code is not null) h["X-Error-Code"] = code;
        if (commit is not null) h["X-Repo-Commit"] = commit;
        return new Response(status, h, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { error = message })));
    }

    private Response Cdn(HubRequest r)
    {
        var sha = r.Path.Split('?')[0].Split('/').Last();
        if (!blobs.TryGetValue(sha, out var body)) return Error(404, null, "no such blob");
        if (CorruptCdn) { body = (byte[])body.Clone(); body[body.Length / 2] ^= 0xFF; }
        var drop = DropNextCdnBodyAfter;
        DropNextCdnBodyAfter = -1;
        var stall = StallNextCdnBodyAfter;
        StallNextCdnBodyAfter = -1;
        return Ranged(r, body, new Dictionary<string, string> { ["Accept-Ranges"] = "bytes" }, drop) with { StallAfter = stall };
    }

    private static Response Ranged(HubRequest r, byte[] body, Dictionary<string, string> headers, int drop = -1)
    {
        if (r.Range is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            var from = int.Parse(range[6..^1]);
            headers["Content-Range"] = $"bytes {from}-{body.Length - 1}/{body.Length}";
            return new Response(206, headers, body[from..], drop);
        }
        return new Response(200, headers, body, drop);
    }

    private Response Hub(HubRequest r)
    {
        var token = r.Authorization?.StartsWith("Bearer ", StringComparison.Ordinal) == true ? r.Authorization[7..] : null;
        var path = r.Path;
        if (path.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            var rest = path["/api/models/".Length..];
            var at = rest.IndexOf("/revision/", StringComparison.Ordinal);
            var id = rest[..at];
            var rev = Uri.UnescapeDataString(rest[(at + "/revision/".Length)..]);
            if (!Repos.TryGetValue(id, out var repo)) return Error(token is null ? 401 : 404, "RepoNotFound", "Repository not found");
            var commit = repo.Refs.GetValueOrDefault(rev) ?? (repo.Commits.ContainsKey(rev) ? rev : null);
            if (commit is null) return Error(404, "RevisionNotFound", $"Invalid rev id: {rev}");
            var json = JsonSerializer.Serialize(new { id, sha = commit, siblings = repo.Commits[commit].Keys.Select(k => new { rfilename = k }) });
            return new Response(200, new() { ["Content-Type"] = "application/json" }, Encoding.UTF8.GetBytes(json));
        }
        var marker = path.IndexOf("/resolve/", StringComparison.Ordinal);
        if (marker < 0) return Error(404, null, "not found");
        var repoId = path[1..marker];
        var after = path[(marker + "/resolve/".Length)..];
        var slash = after.IndexOf('/');
        var revision = Uri.UnescapeDataString(after[..slash]);
        var file = Uri.UnescapeDataString(after[(slash + 1)..]);
        if (!Repos.TryGetValue(repoId, out var found))
        {
            if (Renamed.TryGetValue(repoId, out var to))
                return new Response(307, new() { ["Location"] = $"/{to}/resolve/{after}" }, []);
            return Error(token is null ? 401 : 404, "RepoNotFound", "Repository not found");
        }
        if (found.GatedToken is { } granted && token != granted)
            return token is null
                ? Error(401, "GatedRepo", $"Access to model {repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.")
                : Error(403, "GatedRepo", $"Access to model {repoId} is restricted and you are not in the authorized list. Visit {Endpoint}{repoId} to ask for access.");
        var at2 = found.Refs.GetValueOrDefault(revision) ?? (found.Commits.ContainsKey(revision) ? revision : null);
        if (at2 is null) return Error(404, "RevisionNotFound", $"Invalid rev id: {revision}");
        if (!found.Commits[at2].TryGetValue(file, out var content)) return Error(404, "EntryNotFound", "Entry not found", at2);
        if (found.Lfs.Contains(file))
        {
            var sha = Sha256(content);
            blobs[sha] = content;
            var pointer = Encoding.ASCII.GetBytes($"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {content.Length}\n");
            return new Response(302, new()
            {
                ["Location"] = $"http://127.0.0.1:{CdnPort}/blobs/{sha}?X-Amz-Signature=abc",
                ["X-Repo-Commit"] = at2,
                ["X-Linked-Etag"] = $"\"{sha}\"",
                ["X-Linked-Size"] = content.Length.ToString(),
                ["ETag"] = $"\"{GitSha1(pointer)}\"",
            }, Encoding.ASCII.GetBytes("Found. Redirecting"));
        }
        return Ranged(r, content, new() { ["X-Repo-Commit"] = at2, ["ETag"] = $"W/\"{GitSha1(content)}\"", ["Accept-Ranges"] = "bytes" });
    }

    public void Dispose()
    {
        stop.Cancel();
        hub.Stop();
        cdn.Stop();
    }
}
