namespace TorchBert.Tests.Deploy;

/// <summary>
/// What deploy/ relies on from <c>torchbert serve</c>: its status routes, its drain default and its TEI metric names.
/// Until the server's public constants land these are the values issue 23 specifies (TEI's); the entrypoint and
/// local-cluster tests check them against the running server.
/// </summary>
public static class ServerContract
{
    public const string Health = "/health";
    public const string Ping = "/ping";
    public const string Metrics = "/metrics";
    public const string Embed = "/embed";
    public static readonly string[] Routes = [Health, Ping, Metrics, Embed, "/info", "/predict", "/v1/embeddings"];
    public const int DefaultDrainTimeoutSeconds = 30;
    public static readonly string[] TeMetrics = ["te_queue_size", "te_request_inference_duration"];
}
