using TorchBert.Server;

namespace TorchBert.Tests.Deploy;

/// <summary>
/// What deploy/ relies on from <c>torchbert serve</c>: its routes and drain default (the server's public constants) and
/// its TEI metric names (checked on a running server by <see cref="EntrypointTests"/>).
/// </summary>
public static class ServerContract
{
    public const string Health = ServerRoutes.Health;
    public const string Ping = ServerRoutes.Ping;
    public const string Metrics = ServerRoutes.Metrics;
    public const string Embed = ServerRoutes.Embed;

    /// <summary>Every GET/POST path the server maps (its <see cref="ServerRoutes"/> constants).</summary>
    public static readonly string[] Routes = typeof(ServerRoutes).GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToArray();

    public const int DefaultDrainTimeoutSeconds = ServerDefaults.DrainTimeoutSeconds;
    public const int DefaultPort = ServerDefaults.Port;

    /// <summary>The metrics the HPA's adapter rules read (TEI's names).</summary>
    public static readonly string[] TeMetrics = ["te_queue_size", "te_request_inference_duration"];
}
