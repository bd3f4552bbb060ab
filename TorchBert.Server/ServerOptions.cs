using TorchBert.Checkpoints;

namespace TorchBert.Server;

/// <summary>The server's route paths (deploy manifests and probes check theirs against these).</summary>
public static class ServerRoutes
{
    public const string Embed = "/embed";
    public const string EmbedAll = "/embed_all";
    public const string EmbedSparse = "/embed_sparse";
    public const string Predict = "/predict";
    public const string Rerank = "/rerank";
    public const string Similarity = "/similarity";
    public const string Tokenize = "/tokenize";
    public const string Decode = "/decode";
    public const string OpenAIEmbeddings = "/v1/embeddings";
    public const string OpenAIEmbeddingsShort = "/embeddings";
    public const string Root = "/";
    public const string Invocations = "/invocations";
    public const string Info = "/info";
    public const string Health = "/health";
    public const string Ping = "/ping";
    public const string Metrics = "/metrics";
    public const string CohereRerank = "/v2/rerank";
    public const string TokenClassification = "/token_classification";
    public const string QuestionAnswering = "/question_answering";
    public const string ZeroShot = "/zero_shot";
    public const string OpenApi = "/openapi/v1.json";
    public const string Docs = "/docs";
}

/// <summary>Defaults of <c>torchbert serve</c> (TEI's where TEI has the option).</summary>
public static class ServerDefaults
{
    public const int Port = 8080;
    public const string Hostname = "0.0.0.0";
    public const int MaxConcurrentRequests = 512;
    public const int MaxBatchTokens = 16384;
    public const int MaxClientBatchSize = 32;
    public const bool AutoTruncate = true;
    public const int PayloadLimit = 2_000_000;
    /// <summary>Seconds a SIGTERM'd server keeps finishing accepted work before it exits (below Kubernetes' default 30 s grace period).</summary>
    public const int DrainTimeoutSeconds = 25;
}

/// <summary>One <c>--model</c>: what to load and the name requests use for it.</summary>
/// <param name="Source">Hub id, folder or .onnx file; null = the embedded all-MiniLM-L6-v2.</param>
/// <param name="Name">the name in requests (<c>model</c>) and /info; null = <see cref="Source"/> (or the default model's id).</param>
public sealed record ModelSpec(string? Source, string? Name = null)
{
    /// <summary>Parses <c>M</c> or <c>name=M</c> (a name has no '/', so Hub ids and paths are not split).</summary>
    public static ModelSpec Parse(string value)
    {
        var eq = value.IndexOf('=');
        if (eq > 0 && value.IndexOfAny(['/', '\\']) is var slash && (slash < 0 || slash > eq))
        {
            var name = value[..eq].Trim();
            var source = value[(eq + 1)..].Trim();
            if (name.Length == 0 || source.Length == 0) throw new ArgumentException($"--model '{value}': expected M or name=M");
            return new ModelSpec(source, name);
        }
        if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException("--model is empty");
        return new ModelSpec(value.Trim());
    }
}

/// <summary>Everything <c>torchbert serve</c> is configured with (TEI's option names; see docs/server.md).</summary>
public sealed record ServerOptions
{
    /// <summary>The models; empty = the embedded all-MiniLM-L6-v2. The first is the default.</summary>
    public IReadOnlyList<ModelSpec> Models { get; init; } = [];
    public int Port { get; init; } = ServerDefaults.Port;
    public string Hostname { get; init; } = ServerDefaults.Hostname;
    public int MaxConcurrentRequests { get; init; } = ServerDefaults.MaxConcurrentRequests;
    public int MaxBatchTokens { get; init; } = ServerDefaults.MaxBatchTokens;
    public int? MaxBatchRequests { get; init; }
    public int MaxClientBatchSize { get; init; } = ServerDefaults.MaxClientBatchSize;
    public bool AutoTruncate { get; init; } = ServerDefaults.AutoTruncate;
    public long PayloadLimit { get; init; } = ServerDefaults.PayloadLimit;
    public string? ApiKey { get; init; }
    /// <summary>
    /// Parameter dtype: a name or alias the library reads (<see cref="DTypeNames"/>: float32|fp32|float,
    /// float16|fp16|half, bfloat16|bf16, float64|fp64|double; TEI's DTYPE values are among them); null = float32.
    /// </summary>
    public string? DType { get; init; }

    /// <summary><see cref="DType"/> read by the library's parser (<see cref="DTypeNames.TryParse"/>); null when unset.</summary>
    /// <exception cref="ArgumentException">not a dtype name; the message lists the accepted names.</exception>
    public TorchSharp.torch.ScalarType? ParseDType() =>
        DType is null ? null
        : DTypeNames.TryParse(DType, out var type) ? type
        : throw new ArgumentException($"--dtype must be one of {DTypeNames.Accepted}, got '{DType}'");
    /// <summary>cpu | cuda | cuda:N; null = CUDA when available, else CPU.</summary>
    public string? Device { get; init; }
    /// <summary>a sentence-transformers pooling (cls, mean, max, ...) or splade; null = the model folder's <c>1_Pooling/config.json</c>, else mean.</summary>
    public string? Pooling { get; init; }
    /// <summary>The default model's name in /info and OpenAI responses; null = its id.</summary>
    public string? ServedModelName { get; init; }
    /// <summary>A prompt of <c>config_sentence_transformers.json</c> prepended to every embedding input without its own <c>prompt_name</c>.</summary>
    public string? DefaultPromptName { get; init; }
    /// <summary>Origins allowed by CORS; empty = no CORS headers.</summary>
    public IReadOnlyList<string> CorsAllowOrigin { get; init; } = [];
    public int DrainTimeoutSeconds { get; init; } = ServerDefaults.DrainTimeoutSeconds;
    /// <summary>Hub revision of every Hub-id model.</summary>
    public string? Revision { get; init; }

    /// <summary>Checks the numbers; one-line <see cref="ArgumentException"/>s.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port must be 0..65535, got {Port}");
        if (MaxConcurrentRequests < 1) throw new ArgumentException($"--max-concurrent-requests must be >= 1, got {MaxConcurrentRequests}");
        if (MaxBatchTokens < 1) throw new ArgumentException($"--max-batch-tokens must be >= 1, got {MaxBatchTokens}");
        if (MaxBatchRequests is < 1) throw new ArgumentException($"--max-batch-requests must be >= 1, got {MaxBatchRequests}");
        if (MaxClientBatchSize < 1) throw new ArgumentException($"--max-client-batch-size must be >= 1, got {MaxClientBatchSize}");
        if (PayloadLimit < 1) throw new ArgumentException($"--payload-limit must be >= 1, got {PayloadLimit}");
        if (DrainTimeoutSeconds < 0) throw new ArgumentException($"--drain-timeout must be >= 0, got {DrainTimeoutSeconds}");
        if (Pooling is not (null or "splade") && TorchBert.Configuration.SentenceTransformerConfig.ParsePooling(Pooling) is null)
            throw new ArgumentException($"--pooling must be cls, mean, max, mean_sqrt_len_tokens, weightedmean, lasttoken or splade, got '{Pooling}'");
        ParseDType();
        var names = Models.Select((m, i) => m.Name ?? m.Source ?? "").ToList();
        var dup = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"--model: the name '{dup.Key}' is given twice (use name=M)");
    }

    /// <summary>
    /// TEI's environment variables (MODEL_ID, PORT, HOSTNAME, MAX_CONCURRENT_REQUESTS, MAX_BATCH_TOKENS,
    /// MAX_BATCH_REQUESTS, MAX_CLIENT_BATCH_SIZE, AUTO_TRUNCATE, PAYLOAD_LIMIT, API_KEY, DTYPE, POOLING,
    /// SERVED_MODEL_NAME, DEFAULT_PROMPT_NAME, CORS_ALLOW_ORIGIN, REVISION) plus DEVICE and DRAIN_TIMEOUT, applied over
    /// <paramref name="options"/>; command-line options are applied after this and win.
    /// </summary>
    public static ServerOptions FromEnvironment(ServerOptions options, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        string? S(string name) => env(name) is { Length: > 0 } v ? v : null;
        int I(string name, int fallback) => S(name) is { } v ? int.TryParse(v, out var n) ? n : throw new ArgumentException($"{name}='{v}' is not an integer") : fallback;
        bool B(string name, bool fallback) => S(name) is { } v ? v.ToLowerInvariant() switch
        {
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw new ArgumentException($"{name}='{v}' is not true or false"),
        } : fallback;
        return options with
        {
            Models = S("MODEL_ID") is { } id && options.Models.Count == 0 ? [ModelSpec.Parse(id)] : options.Models,
            Port = I("PORT", options.Port),
            // Shells and containers set HOSTNAME to the machine's name; only an address (or localhost) is taken as where to bind.
            Hostname = S("HOSTNAME") is { } h && (System.Net.IPAddress.TryParse(h, out _) || h == "localhost") ? h : options.Hostname,
            MaxConcurrentRequests = I("MAX_CONCURRENT_REQUESTS", options.MaxConcurrentRequests),
            MaxBatchTokens = I("MAX_BATCH_TOKENS", options.MaxBatchTokens),
            MaxBatchRequests = S("MAX_BATCH_REQUESTS") is not null ? I("MAX_BATCH_REQUESTS", 0) : options.MaxBatchRequests,
            MaxClientBatchSize = I("MAX_CLIENT_BATCH_SIZE", options.MaxClientBatchSize),
            AutoTruncate = B("AUTO_TRUNCATE", options.AutoTruncate),
            PayloadLimit = I("PAYLOAD_LIMIT", (int)Math.Min(options.PayloadLimit, int.MaxValue)),
            ApiKey = S("API_KEY") ?? options.ApiKey,
            DType = S("DTYPE") ?? options.DType,
            Device = S("DEVICE") ?? options.Device,
            Pooling = S("POOLING") ?? options.Pooling,
            ServedModelName = S("SERVED_MODEL_NAME") ?? options.ServedModelName,
            DefaultPromptName = S("DEFAULT_PROMPT_NAME") ?? options.DefaultPromptName,
            CorsAllowOrigin = S("CORS_ALLOW_ORIGIN") is { } cors ? cors.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : options.CorsAllowOrigin,
            DrainTimeoutSeconds = I("DRAIN_TIMEOUT", options.DrainTimeoutSeconds),
            Revision = S("REVISION") ?? options.Revision,
        };
    }
}
