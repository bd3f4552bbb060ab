using System.CommandLine;
using TorchBert.Server;

namespace TorchBert.Cli;

/// <summary><c>torchbert serve</c>: the TEI-compatible server (docs/server.md). Options keep TEI's names; TEI's environment variables set them too.</summary>
internal static class ServeCommand
{
    public static Command Command()
    {
        var model = new Option<string[]>("--model") { Description = "model to serve (Hub id, folder or .onnx; name=M names it); repeat for several, the first is the default; default: the embedded all-MiniLM-L6-v2 (env MODEL_ID)", AllowMultipleArgumentsPerToken = false };
        var port = new Option<int?>("--port", "-p") { Description = $"port (env PORT; default {ServerDefaults.Port})" };
        var hostname = new Option<string?>("--hostname") { Description = $"address to listen on (env HOSTNAME when it is an address; default {ServerDefaults.Hostname})" };
        var maxConcurrent = new Option<int?>("--max-concurrent-requests") { Description = $"permits: inputs in flight before 429 (env MAX_CONCURRENT_REQUESTS; default {ServerDefaults.MaxConcurrentRequests})" };
        var maxBatchTokens = new Option<int?>("--max-batch-tokens") { Description = $"token budget of one forward (env MAX_BATCH_TOKENS; default {ServerDefaults.MaxBatchTokens})" };
        var maxBatchRequests = new Option<int?>("--max-batch-requests") { Description = "inputs per forward (env MAX_BATCH_REQUESTS; default no cap; 1 turns batching off)" };
        var maxClientBatch = new Option<int?>("--max-client-batch-size") { Description = $"inputs per request (env MAX_CLIENT_BATCH_SIZE; default {ServerDefaults.MaxClientBatchSize})" };
        var autoTruncate = new Option<bool?>("--auto-truncate") { Description = "truncate over-long inputs when the request does not say (env AUTO_TRUNCATE; default true)" };
        var payloadLimit = new Option<long?>("--payload-limit") { Description = $"largest request body in bytes (env PAYLOAD_LIMIT; default {ServerDefaults.PayloadLimit})" };
        var apiKey = new Option<string?>("--api-key") { Description = "require Authorization: Bearer KEY on inference routes (env API_KEY)" };
        var dtype = new Option<string?>("--dtype") { Description = $"{CommonOptions.DTypeValues} (env DTYPE; default float32)" };
        var device = new Option<string?>("--device") { Description = "cpu | cuda | cuda:N (env DEVICE; default CUDA when available)" };
        var pooling = new Option<string?>("--pooling") { Description = "cls | mean | max | mean_sqrt_len_tokens | weightedmean | lasttoken | splade (env POOLING; default: the folder's 1_Pooling/config.json, else mean)" };
        var servedName = new Option<string?>("--served-model-name") { Description = "the default model's name in /info, OpenAI responses and `model` (env SERVED_MODEL_NAME)" };
        var promptName = new Option<string?>("--default-prompt-name") { Description = "sentence-transformers prompt used when a request names none (env DEFAULT_PROMPT_NAME)" };
        var cors = new Option<string[]>("--cors-allow-origin") { Description = "allowed CORS origins (env CORS_ALLOW_ORIGIN, comma-separated)" };
        var drain = new Option<int?>("--drain-timeout") { Description = $"seconds to finish accepted work after SIGTERM (env DRAIN_TIMEOUT; default {ServerDefaults.DrainTimeoutSeconds})" };
        var revision = new Option<string?>("--revision") { Description = "Hub revision of Hub-id models (env REVISION)" };
        var cmd = new Command("serve", "TEI-compatible HTTP server: /embed, /predict, /rerank, /v1/embeddings, ... with token-budget batching, 429 back-pressure and Prometheus metrics (docs/server.md)")
        {
            model, port, hostname, maxConcurrent, maxBatchTokens, maxBatchRequests, maxClientBatch, autoTruncate, payloadLimit, apiKey,
            dtype, device, pooling, servedName, promptName, cors, drain, revision,
        };
        cmd.SetAction((p, _) => Cli.Run(() =>
        {
            var o = ServerOptions.FromEnvironment(new ServerOptions());
            var models = p.GetValue(model) ?? [];
            o = o with
            {
                Models = models.Length > 0 ? models.Select(ModelSpec.Parse).ToList() : o.Models,
                Port = p.GetValue(port) ?? o.Port,
                Hostname = p.GetValue(hostname) ?? o.Hostname,
                MaxConcurrentRequests = p.GetValue(maxConcurrent) ?? o.MaxConcurrentRequests,
                MaxBatchTokens = p.GetValue(maxBatchTokens) ?? o.MaxBatchTokens,
                MaxBatchRequests = p.GetValue(maxBatchRequests) ?? o.MaxBatchRequests,
                MaxClientBatchSize = p.GetValue(maxClientBatch) ?? o.MaxClientBatchSize,
                AutoTruncate = p.GetValue(autoTruncate) ?? o.AutoTruncate,
                PayloadLimit = p.GetValue(payloadLimit) ?? o.PayloadLimit,
                ApiKey = p.GetValue(apiKey) ?? o.ApiKey,
                DType = p.GetValue(dtype) ?? o.DType,
                Device = p.GetValue(device) ?? o.Device,
                Pooling = p.GetValue(pooling) ?? o.Pooling,
                ServedModelName = p.GetValue(servedName) ?? o.ServedModelName,
                DefaultPromptName = p.GetValue(promptName) ?? o.DefaultPromptName,
                CorsAllowOrigin = p.GetValue(cors) is { Length: > 0 } origins ? origins : o.CorsAllowOrigin,
                DrainTimeoutSeconds = p.GetValue(drain) ?? o.DrainTimeoutSeconds,
                Revision = p.GetValue(revision) ?? o.Revision,
            };
            return TorchBertServer.Run(o);
        }));
        return cmd;
    }
}
