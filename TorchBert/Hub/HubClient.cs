using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace TorchBert.Hub;

/// <summary>What a HEAD on <c>resolve/{revision}/{file}</c> told (huggingface_hub's <c>HfFileMetadata</c>).</summary>
public sealed record HubFileMetadata(string Commit, string Etag, long Size, Uri DownloadUrl, bool IsLfs);

/// <summary>
/// A Hub client on huggingface_hub's cache (<c>file_download.py</c> <c>hf_hub_download</c>): HEAD for the metadata (relative
/// redirects of renamed repos followed by hand with the token; the CDN's absolute redirect read, not followed), GET into
/// <c>blobs/{etag}.{random}.incomplete</c> with resume by <c>Range</c>, size and (LFS) sha256 checked before the rename
/// to <c>blobs/{etag}</c>, a relative symlink in <c>snapshots/{commit}/</c>, <c>refs/{revision}</c>. Cached files cost no
/// GET; a cached commit costs no request; offline or unreachable, files come from the cache. Transient failures are
/// retried with exponential backoff (Polly).
/// </summary>
public sealed class HubClient : IDisposable
{
    private readonly HttpClient http;
    private readonly bool ownsHttp;
    private readonly ILogger logger;
    private readonly ResiliencePipeline retry;
    private readonly Uri endpoint;
    private static readonly ProductInfoHeaderValue UserAgent = new("torchbert", "1.0");

    /// <summary>
    /// A client with its own <see cref="HttpClient"/> (on <see cref="CreateHandler"/>), disposed with it. Create one and
    /// reuse it: each instance holds a connection pool.
    /// </summary>
    /// <param name="options">where and how to work; null = the HF environment variables (<see cref="HubOptions.FromEnvironment()"/>).</param>
    /// <param name="logger">download reports; null = silent.</param>
    public HubClient(HubOptions? options = null, ILogger? logger = null)
        : this(new HttpClient(CreateHandler(), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan }, options ?? HubOptions.FromEnvironment(), logger, ownsHttp: true)
    {
    }

    /// <summary>
    /// A client on an injected <see cref="HttpClient"/> (not disposed by the client), e.g. from <c>IHttpClientFactory</c>:
    /// <c>services.AddHttpClient&lt;HubClient&gt;().ConfigurePrimaryHttpMessageHandler(HubClient.CreateHandler)</c>. Its handler
    /// must not follow redirects (the client follows the Hub's relative redirects itself, with the token, and reads the
    /// CDN's absolute one), and its <see cref="HttpClient.Timeout"/> should be infinite: <see cref="HubOptions.EtagTimeout"/>
    /// and <see cref="HubOptions.DownloadTimeout"/> bound each request and each read.
    /// </summary>
    /// <param name="httpClient">the HTTP client to send requests with.</param>
    /// <param name="options">where and how to work (endpoint, cache, token, timeouts, retries).</param>
    /// <param name="logger">download reports; null = silent.</param>
    public HubClient(HttpClient httpClient, HubOptions options, ILogger<HubClient>? logger = null)
        : this(httpClient, options, logger, ownsHttp: false)
    {
    }

    private HubClient(HttpClient httpClient, HubOptions options, ILogger? logger, bool ownsHttp)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        this.logger = logger ?? NullLogger.Instance;
        Cache = new HubCache(Options.CacheDir);
        if (!Uri.TryCreate(Options.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var e) || e.Scheme is not ("http" or "https"))
        {
            if (ownsHttp) httpClient.Dispose();
            throw new HubException(HubErrorKind.Invalid, "", $"HF_ENDPOINT '{Options.Endpoint}' is not an http(s) URL");
        }
        endpoint = e;
        http = httpClient;
        this.ownsHttp = ownsHttp;
        retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<HubException>(x => x.IsTransient),
            MaxRetryAttempts = Math.Max(1, Options.MaxRetries),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = Options.RetryDelay,
            MaxDelay = Options.MaxRetryDelay,
        }).Build();
    }

    /// <summary>
    /// The primary handler a Hub client needs: no automatic redirects, no automatic decompression (sizes and sha256 are
    /// checked on the bytes as stored). Pass it to <c>ConfigurePrimaryHttpMessageHandler</c> when the client comes from
    /// <c>IHttpClientFactory</c>.
    /// </summary>
    public static SocketsHttpHandler CreateHandler() =>
        new() { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None };

    /// <summary>The options in effect.</summary>
    public HubOptions Options { get; }
    /// <summary>The local cache the client reads and fills.</summary>
    public HubCache Cache { get; }

    /// <summary>The resolve URL of a file: <c>{endpoint}/{repo}/resolve/{quote(revision, safe="")}/{quote(file)}</c>.</summary>
    public Uri ResolveUrl(string repoId, string revision, string fileName) =>
        new(endpoint, $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', fileName.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>Downloads (or finds in the cache) one file; returns its path under <c>snapshots/</c>.</summary>
    public async Task<string> DownloadFileAsync(string repoId, string fileName, string? revision = null, CancellationToken ct = default) =>
        (await ResolveFileAsync(repoId, fileName, revision ?? "main", optional: false, ct).ConfigureAwait(false)).Path!;

    /// <summary>Result of resolving one file: its path, or null when the repo has no such file; the commit it came from.</summary>
    internal sealed record Resolved(string? Path, string? Commit, bool FromCacheOnly);

    /// <summary>
    /// One file, as <c>_hf_hub_download_to_cache_dir</c>. <paramref name="optional"/>: a missing file (404 EntryNotFound,
    /// a <c>.no_exist</c> marker, or offline and not cached) gives a null path instead of an error.
    /// <paramref name="noNetwork"/>: answer from the cache only (a previous request of the same resolution failed).
    /// </summary>
    internal async Task<Resolved> ResolveFileAsync(string repoId, string fileName, string revision, bool optional, CancellationToken ct, bool noNetwork = false)
    {
        HubNames.CheckRepoId(repoId);
        HubNames.CheckRevision(repoId, revision);
        HubNames.CheckFileName(repoId, fileName);

        if (HubNames.IsCommitHash(revision))
        {
            if (Cache.CachedFile(repoId, revision, fileName) is { } hit) return new(hit, revision, true);
            if (optional && Cache.IsKnownMissing(repoId, revision, fileName)) return new(null, revision, true);
        }
        if (Options.Offline || noNetwork)
            return FromCache(repoId, fileName, revision, optional, null);

        HubFileMetadata? meta = null;
        HubException? failure = null;
        try
        {
            meta = await HeadAsync(repoId, fileName, revision, ct).ConfigureAwait(false);
        }
        catch (HubException e) when (e.Kind is HubErrorKind.EntryNotFound)
        {
            if (e.Commit is { } commit && HubNames.IsCommitHash(commit))
            {
                Cache.MarkMissing(repoId, commit, fileName);
                Cache.WriteRef(repoId, revision, commit);
            }
            if (optional) return new(null, e.Commit, false);
            throw;
        }
        catch (HubException e) when (e.Kind is not (HubErrorKind.RevisionNotFound or HubErrorKind.Invalid))
        {
            // The HEAD failed (network, 5xx, 401/403, gated, repo not found): the cache answers if it can (Python does the same).
            var cached = TryFromCache(repoId, fileName, revision);
            if (cached is not null) return cached with { FromCacheOnly = true };
            failure = e;
        }
        if (failure is { IsTransient: true })
        {
            // Nothing cached: now retry with backoff (the first HEAD had none, as huggingface_hub).
            try
            {
                meta = await retry.ExecuteAsync(async t => await HeadAsync(repoId, fileName, revision, t).ConfigureAwait(false), ct).ConfigureAwait(false);
                failure = null;
            }
            catch (HubException again) when (again.Kind is HubErrorKind.Network)
            {
                failure = again;
            }
        }
        if (failure is not null)
        {
            if (failure.Kind is not HubErrorKind.Network) throw failure;
            if (optional) return new(null, null, true);
            throw new HubException(HubErrorKind.NotCached, repoId,
                $"{failure.Message}; and it is not in the cache {Cache.Root} (revision '{revision}'): connect to the Hub once (or check HF_ENDPOINT), or pass a local folder",
                failure);
        }

        var etag = meta!.Etag;
        HubNames.CheckEtag(repoId, fileName, etag);
        var pointer = Cache.PointerPath(repoId, meta.Commit, fileName);
        if (File.Exists(pointer))
        {
            Cache.WriteRef(repoId, revision, meta.Commit);
            return new(pointer, meta.Commit, false);
        }
        var blob = Cache.BlobPath(repoId, etag);
        if (!File.Exists(blob))
        {
            var lockPath = Cache.LockPath(repoId, etag);
            Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
            await using var held = await AcquireLockAsync(lockPath, ct).ConfigureAwait(false);
            if (!File.Exists(blob)) await DownloadBlobAsync(repoId, fileName, meta, blob, ct).ConfigureAwait(false);
        }
        Cache.Link(repoId, etag, meta.Commit, fileName, Options.DisableSymlinks);
        Cache.WriteRef(repoId, revision, meta.Commit);
        return new(pointer, meta.Commit, false);
    }

    private Resolved? TryFromCache(string repoId, string fileName, string revision)
    {
        var commit = Cache.CommitOf(repoId, revision);
        if (commit is null) return null;
        if (Cache.CachedFile(repoId, commit, fileName) is { } hit) return new(hit, commit, true);
        return null;
    }

    private Resolved FromCache(string repoId, string fileName, string revision, bool optional, Exception? cause)
    {
        if (TryFromCache(repoId, fileName, revision) is { } hit) return hit;
        var commit = Cache.CommitOf(repoId, revision);
        if (optional) return new(null, commit, true);
        var why = Options.Offline ? "offline mode is on (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)" : "the Hub is unreachable";
        throw new HubException(HubErrorKind.NotCached, repoId,
            commit is null
                ? $"{repoId}: {why} and revision '{revision}' of the repo is not in the cache {Cache.Root}; download it once online (torchbert download {repoId}), or unset HF_HUB_OFFLINE"
                : $"{repoId}: {why} and {fileName} (commit {commit}) is not in the cache {Cache.Root}; download it once online (torchbert download {repoId}), or unset HF_HUB_OFFLINE",
            cause);
    }

    /// <summary>HEAD resolve/{revision}/{file} without automatic redirects (<c>get_hf_file_metadata</c>).</summary>
    public async Task<HubFileMetadata> HeadAsync(string repoId, string fileName, string revision, CancellationToken ct)
    {
        var url = ResolveUrl(repoId, revision, fileName);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.EtagTimeout);
        HttpResponseMessage response;
        try
        {
            for (int hop = 0; ; hop++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Head, url);
                request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
                request.Headers.UserAgent.Add(UserAgent);
                if (Options.Token is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                // Follow only relative redirects (a renamed repo), by hand so the token goes along (same host).
                if (status is >= 300 and < 400 && response.Headers.Location is { } loc && !loc.IsAbsoluteUri && hop < 10)
                {
                    url = new Uri(url, loc);
                    response.Dispose();
                    continue;
                }
                break;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: {fileName}: no answer from {Options.Endpoint} within {Options.EtagTimeout.TotalSeconds:0.###} s (HF_HUB_ETAG_TIMEOUT)", null, transient: true);
        }
        catch (HttpRequestException e)
        {
            throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: {fileName}: cannot reach {Options.Endpoint}: {e.Message}", e, transient: !Unreachable(e));
        }

        using (response)
        {
            RaiseForStatus(response, repoId, fileName, revision);
            var commit = Header(response, "X-Repo-Commit");
            var linkedEtag = Header(response, "X-Linked-Etag");
            var etag = NormalizeEtag(linkedEtag ?? Header(response, "ETag"));
            var isRedirect = (int)response.StatusCode is >= 300 and < 400;
            long? size = long.TryParse(Header(response, "X-Linked-Size"), out var ls) ? ls
                : isRedirect ? null : response.Content.Headers.ContentLength;
            if (commit is null || !HubNames.IsCommitHash(commit))
                throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: {fileName}: the answer of {Options.Endpoint} has no X-Repo-Commit (not a Hugging Face Hub? check HF_ENDPOINT)", transient: false);
            if (etag is null || size is null)
                throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: {fileName}: the answer of {Options.Endpoint} has no {(etag is null ? "ETag" : "size")}; cannot cache it", transient: false);
            var location = isRedirect && response.Headers.Location is { IsAbsoluteUri: true } abs ? abs : url;
            return new HubFileMetadata(commit, etag, size.Value, location, linkedEtag is not null);
        }
    }

    private static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) || r.Content.Headers.TryGetValues(name, out v) ? v.FirstOrDefault() : null;

    /// <summary><c>_normalize_etag</c>: drop a leading <c>W/</c> and the quotes.</summary>
    internal static string? NormalizeEtag(string? etag)
    {
        if (etag is null) return null;
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        return etag.Trim('"');
    }

    /// <summary><c>hf_raise_for_status</c>: X-Error-Code decides, then the status; one line naming the repo and the fix.</summary>
    private void RaiseForStatus(HttpResponseMessage r, string repoId, string fileName, string revision)
    {
        var status = (int)r.StatusCode;
        if (status < 400) return;
        var code = Header(r, "X-Error-Code");
        var message = Header(r, "X-Error-Message") ?? "";
        var hasToken = Options.Token is not null;
        switch (code)
        {
            case "RepoNotFound":
                throw RepoNotFound(repoId, status);
            case "GatedRepo":
                throw new HubException(HubErrorKind.GatedRepo, repoId, hasToken
                    ? $"{repoId} is a gated repo and the token in HF_TOKEN has no access (HTTP {status}): ask for access at {Options.Endpoint}/{repoId}, then use a token of that account"
                    : $"{repoId} is a gated repo (HTTP {status}): accept its conditions at {Options.Endpoint}/{repoId} and set HF_TOKEN (or log in so {{HF_HOME}}/token exists)", status: status);
            case "RevisionNotFound":
                throw new HubException(HubErrorKind.RevisionNotFound, repoId, $"{repoId}: revision '{revision}' not found (HTTP {status}); pass an existing branch, tag or commit with --revision / Revision", status: status);
            case "EntryNotFound":
                throw new HubException(HubErrorKind.EntryNotFound, repoId, $"{repoId}: {fileName} not found at revision '{revision}' (HTTP {status})",
                    commit: Header(r, "X-Repo-Commit"), status: status);
        }
        if (status == 401 && message.Contains("Invalid credentials", StringComparison.OrdinalIgnoreCase))
            throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: the Hub refused the token (HTTP 401, invalid credentials): fix or unset HF_TOKEN / {{HF_HOME}}/token", status: status);
        if (status == 401) throw RepoNotFound(repoId, status);
        if (status == 403)
            throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: access denied (HTTP 403{(message.Length > 0 ? ": " + OneLine(message) : "")}); check HF_TOKEN's permissions", status: status);
        if (status == 404)
            throw new HubException(HubErrorKind.EntryNotFound, repoId, $"{repoId}: {fileName} not found at revision '{revision}' (HTTP 404)", commit: Header(r, "X-Repo-Commit"), status: status);
        var transient = status is 408 or 429 or >= 500;
        throw new HubException(transient ? HubErrorKind.Network : HubErrorKind.Http, repoId, $"{repoId}: {fileName}: HTTP {status} from {Options.Endpoint}", transient: transient, status: status);
    }

    private HubException RepoNotFound(string repoId, int status) =>
        new(HubErrorKind.RepoNotFound, repoId, Options.Token is null
            ? $"repository {repoId} not found on {Options.Endpoint} (HTTP {status}): check the id; if it is private or gated, set HF_TOKEN"
            : $"repository {repoId} not found on {Options.Endpoint} (HTTP {status}): check the id and that the token in HF_TOKEN can read it", status: status);

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    /// <summary>
    /// GET the bytes into <c>blobs/{etag}.{8 hex}.incomplete</c>; a broken body is resumed with <c>Range</c> (a 200 answer
    /// restarts from 0); size and, for LFS files, sha256 checked; then renamed to <c>blobs/{etag}</c>. On any failure the
    /// partial file is deleted.
    /// </summary>
    private async Task DownloadBlobAsync(string repoId, string fileName, HubFileMetadata meta, string blob, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        var temp = $"{blob}.{Guid.NewGuid().ToString("N")[..8]}.incomplete";
        var moved = false;
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            logger.LogInformation("downloading {RepoId}/{FileName} ({Size:N0} bytes) at {Commit}", repoId, fileName, meta.Size, meta.Commit);
            await using (var file = OpenTemp(repoId, temp))
            {
                await retry.ExecuteAsync(async t =>
                {
                    await GetIntoAsync(repoId, fileName, meta, file, hash, t).ConfigureAwait(false);
                }, ct).ConfigureAwait(false);
                if (file.Length != meta.Size)
                    throw new HubException(HubErrorKind.Integrity, repoId,
                        $"{repoId}: {fileName}: consistency check failed: got {file.Length} bytes, the Hub announced {meta.Size}; retry the download");
                await file.FlushAsync(ct).ConfigureAwait(false);
            }
            if (meta.IsLfs && meta.Etag.Length == 64)
            {
                var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (!string.Equals(actual, meta.Etag, StringComparison.OrdinalIgnoreCase))
                    throw new HubException(HubErrorKind.Integrity, repoId,
                        $"{repoId}: {fileName}: sha256 {actual} does not match the Hub's {meta.Etag}; the download is corrupt (nothing was cached), retry");
            }
            File.Move(temp, blob, overwrite: false);
            moved = true;
            logger.LogInformation("downloaded {RepoId}/{FileName} into {Blob}", repoId, fileName, blob);
        }
        catch (IOException e) when (IsDiskFull(e))
        {
            throw new HubException(HubErrorKind.DiskFull, repoId,
                $"{repoId}: {fileName}: no space left on the device of {Cache.Root} ({meta.Size:N0} bytes needed); free some space or set HF_HUB_CACHE to another disk", e);
        }
        catch (IOException e) when (File.Exists(blob))
        {
            _ = e;   // another process finished the same blob first (the move lost the race)
        }
        finally
        {
            if (!moved) TryDelete(temp);
        }
    }

    private Stream OpenTemp(string repoId, string temp)
    {
        try
        {
            return Options.OpenTempFile?.Invoke(temp)
                   ?? new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: cannot write into the cache {Cache.Root} ({e.Message}); set HF_HUB_CACHE to a writable folder", e);
        }
    }

    /// <summary>One GET from the current length of <paramref name="file"/>; network failures are transient (retried, resumed).</summary>
    private async Task GetIntoAsync(string repoId, string fileName, HubFileMetadata meta, Stream file, IncrementalHash hash, CancellationToken ct)
    {
        var offset = file.Length;
        using var request = new HttpRequestMessage(HttpMethod.Get, meta.DownloadUrl);
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        request.Headers.UserAgent.Add(UserAgent);
        // The token goes only to the Hub's own host:port (py pops Authorization for another netloc: the CDN).
        if (Options.Token is { } token && SameNetloc(meta.DownloadUrl, endpoint))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.DownloadTimeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            RaiseForStatus(response, repoId, fileName, meta.Commit);
            if ((int)response.StatusCode is >= 300 and < 400)
                throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: {fileName}: unexpected redirect (HTTP {(int)response.StatusCode}) from the download host");
            if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
            {
                // The server ignored Range: start over.
                file.SetLength(0);
                file.Position = 0;
                hash.GetHashAndReset();
                offset = 0;
            }
            else if (offset > 0 && response.Content.Headers.ContentRange?.From is { } from && from != offset)
                throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: {fileName}: the server resumed at byte {from}, not {offset}", transient: true);
            file.Position = offset;
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            var buffer = new byte[1 << 20];
            var done = offset;
            while (true)
            {
                timeout.CancelAfter(Options.DownloadTimeout);   // a read timeout, as httpx's
                var n = await body.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                if (n == 0) break;
                if (done + n > meta.Size)
                    throw new HubException(HubErrorKind.Integrity, repoId, $"{repoId}: {fileName}: the server sent more than the {meta.Size} bytes announced; nothing was cached");
                try { await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false); }
                catch (IOException e) when (IsDiskFull(e)) { throw new DiskFullSignal(e); }
                hash.AppendData(buffer, 0, n);
                done += n;
                Options.Progress?.Invoke(new DownloadProgress(repoId, fileName, done, meta.Size));
            }
            if (done < meta.Size)
                throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: {fileName}: the connection closed after {done} of {meta.Size} bytes", transient: true);
        }
        catch (DiskFullSignal e) { throw e.Inner; }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: {fileName}: no data for {Options.DownloadTimeout.TotalSeconds:0.###} s (HF_HUB_DOWNLOAD_TIMEOUT)", transient: true);
        }
        catch (HttpRequestException e)
        {
            throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: {fileName}: download failed: {e.Message}", e, transient: true);
        }
        catch (IOException e)
        {
            // A broken body (connection reset, premature end): resume.
            throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: {fileName}: download interrupted: {e.Message}", e, transient: true);
        }
    }

    private sealed class DiskFullSignal(IOException inner) : Exception(inner.Message, inner) { public IOException Inner { get; } = inner; }

    /// <summary>No route, no DNS answer, connection refused: retrying in a few seconds will not help, so the cache answers at once.</summary>
    private static bool Unreachable(HttpRequestException e) =>
        e.InnerException is System.Net.Sockets.SocketException
        {
            SocketErrorCode: System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.ConnectionRefused
                or System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostUnreachable
                or System.Net.Sockets.SocketError.NoData
        };

    private static bool SameNetloc(Uri a, Uri b) =>
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    internal static bool IsDiskFull(IOException e) =>
        (e.HResult & 0xFFFF) is 28 or 0x27 or 0x70 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("not enough space", StringComparison.OrdinalIgnoreCase);

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The per-blob lock (<c>.locks/{repo}/{etag}.lock</c>): an exclusive open, which .NET maps to flock on Unix as Python's filelock.</summary>
    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1); }
            catch (IOException) when (attempt < 100_000) { await Task.Delay(50, ct).ConfigureAwait(false); }
        }
    }

    /// <summary><c>GET /api/models/{id}/revision/{rev}</c>: the commit and the file list (<c>siblings</c>).</summary>
    public async Task<(string Commit, IReadOnlyList<string> Files)> RepoInfoAsync(string repoId, string revision, CancellationToken ct)
    {
        HubNames.CheckRepoId(repoId);
        HubNames.CheckRevision(repoId, revision);
        if (Options.Offline)
            throw new HubException(HubErrorKind.NotCached, repoId, $"{repoId}: offline mode is on (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE): cannot list the repo's files");
        return await retry.ExecuteAsync(async t =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(t);
            timeout.CancelAfter(Options.EtagTimeout);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint, $"api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}"));
            request.Headers.UserAgent.Add(UserAgent);
            if (Options.Token is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            try
            {
                using var response = await http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                RaiseForStatus(response, repoId, "(repo info)", revision);
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false));
                var root = doc.RootElement;
                var sha = root.TryGetProperty("sha", out var s) ? s.GetString() : null;
                if (sha is null || !HubNames.IsCommitHash(sha))
                    throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: the repo info has no commit sha");
                var files = root.TryGetProperty("siblings", out var sib) && sib.ValueKind == JsonValueKind.Array
                    ? sib.EnumerateArray().Select(x => x.GetProperty("rfilename").GetString()!).ToList() : [];
                return ((string, IReadOnlyList<string>))(sha, files);
            }
            catch (OperationCanceledException) when (!t.IsCancellationRequested)
            {
                throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: no answer from {Options.Endpoint} within {Options.EtagTimeout.TotalSeconds:0.###} s", transient: true);
            }
            catch (HttpRequestException e)
            {
                throw new HubException(HubErrorKind.Network, repoId, $"{repoId}: cannot reach {Options.Endpoint}: {e.Message}", e, transient: true);
            }
            catch (JsonException e)
            {
                throw new HubException(HubErrorKind.Http, repoId, $"{repoId}: the repo info is not valid JSON ({e.Message})", e);
            }
        }, ct).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (ownsHttp) http.Dispose();
    }
}
