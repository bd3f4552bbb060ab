using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Hub;
using TorchBert.Onnx;
using Microsoft.Extensions.Logging;

namespace TorchBert.Loading;

/// <summary>
/// One way of turning a model name that is not a local path into a local folder or file (the embedded default model,
/// the Hub). <see cref="ModelLocator"/> asks its resolvers in order; the first that answers wins.
/// </summary>
public interface IModelResolver
{
    /// <summary>Whether this resolver answers <paramref name="pathOrId"/> (without doing any work).</summary>
    bool Handles(string pathOrId, string? revision);

    /// <summary>The local path of <paramref name="pathOrId"/> (a folder or a .onnx file); called only when <see cref="Handles"/> is true.</summary>
    Task<string> ResolveAsync(string pathOrId, string? revision, ModelFileSelection? selection, CancellationToken ct);
}

/// <summary>
/// The embedded all-MiniLM-L6-v2 (<see cref="DefaultModel"/>): answers its name and its Hub id (without a revision) by
/// importing it on first use under <see cref="DefaultModel.WeightsRoot"/>.
/// </summary>
/// <param name="logger">reports the one-time import; null = silent.</param>
public sealed class EmbeddedModelResolver(ILogger? logger = null) : IModelResolver
{
    /// <inheritdoc/>
    public bool Handles(string pathOrId, string? revision) => revision is null && ModelLocator.IsEmbedded(pathOrId);

    /// <inheritdoc/>
    public Task<string> ResolveAsync(string pathOrId, string? revision, ModelFileSelection? selection, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        NativeRuntime.EnsureLoaded();
        return Task.FromResult(DefaultModel.EnsureInstalled(logger));
    }
}

/// <summary>
/// A Hub repo id (<c>bert-base-uncased</c>, <c>org/name</c>): downloaded into the Hub cache by <paramref name="hub"/>
/// (not owned: the caller disposes it), answered with its snapshot folder.
/// </summary>
/// <param name="hub">the Hub client that downloads.</param>
public sealed class HubModelResolver(HubClient hub) : IModelResolver
{
    /// <summary>The client that downloads.</summary>
    public HubClient Hub { get; } = hub ?? throw new ArgumentNullException(nameof(hub));

    /// <inheritdoc/>
    public bool Handles(string pathOrId, string? revision) => HubNames.IsRepoId(pathOrId);

    /// <inheritdoc/>
    public Task<string> ResolveAsync(string pathOrId, string? revision, ModelFileSelection? selection, CancellationToken ct) =>
        Hub.DownloadModelAsync(pathOrId, revision, selection, ct);
}

/// <summary>
/// The one place that turns what a user passes as a model (a local folder or <c>.onnx</c> file, the embedded default
/// model's name, or a Hub id such as <c>bert-base-uncased</c> / <c>org/name</c>) into a local path, and opens it. A local
/// path that exists always wins; then the <see cref="Resolvers"/> are asked in order (by default the embedded
/// all-MiniLM-L6-v2, then the Hub cache through one <see cref="HubClient"/>). A service: build one (or register it in
/// DI) with the <see cref="HubClient"/> and logger it should use; <see cref="Default"/> is the process-wide instance the
/// synchronous entry points (<c>FromPretrained(path)</c>, pipelines) use when none is passed.
/// </summary>
public sealed class ModelLocator
{
    private static ModelLocator? defaultLocator;

    /// <summary>A locator over <paramref name="resolvers"/>, asked in order for names that are not local paths.</summary>
    public ModelLocator(IEnumerable<IModelResolver> resolvers)
    {
        ArgumentNullException.ThrowIfNull(resolvers);
        Resolvers = resolvers.ToArray();
    }

    /// <summary>The default resolvers (the embedded model, then the Hub through <paramref name="hub"/>).</summary>
    /// <param name="hub">the Hub client (not owned).</param>
    /// <param name="logger">reports the embedded model's one-time import; null = silent.</param>
    public ModelLocator(HubClient hub, ILogger<ModelLocator>? logger = null)
        : this([new EmbeddedModelResolver(logger), new HubModelResolver(hub)])
    {
    }

    /// <summary>
    /// The locator used when none is passed: until a host replaces it (once, at startup), one built from the HF
    /// environment variables (<see cref="HubOptions.FromEnvironment()"/>) with one shared <see cref="HubClient"/>, silent.
    /// </summary>
    public static ModelLocator Default
    {
        get
        {
            if (Volatile.Read(ref defaultLocator) is { } d) return d;
            var created = new ModelLocator(new HubClient(HubOptions.FromEnvironment()));
            return Interlocked.CompareExchange(ref defaultLocator, created, null) ?? created;
        }
        set => Volatile.Write(ref defaultLocator, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>The resolvers asked, in order, for a name that is not an existing local path.</summary>
    public IReadOnlyList<IModelResolver> Resolvers { get; }

    /// <summary>Resolves a model: a local path (returned as is), the embedded default, or a Hub id (→ its snapshot folder).</summary>
    public string Resolve(string pathOrId, string? revision = null, ModelFileSelection? selection = null) =>
        ResolveAsync(pathOrId, revision, selection).GetAwaiter().GetResult();

    /// <inheritdoc cref="Resolve"/>
    public async Task<string> ResolveAsync(string pathOrId, string? revision = null, ModelFileSelection? selection = null,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrId);
        if (File.Exists(pathOrId) || Directory.Exists(pathOrId)) return pathOrId;
        ct.ThrowIfCancellationRequested();
        foreach (var resolver in Resolvers)
            if (resolver.Handles(pathOrId, revision))
                return await resolver.ResolveAsync(pathOrId, revision, selection, ct).ConfigureAwait(false);
        return pathOrId;   // nothing answers it: the caller reports the missing path
    }

    /// <summary>Whether <paramref name="pathOrId"/> would go to the Hub (not a local path, not the embedded model).</summary>
    public static bool IsHubId(string pathOrId) =>
        !File.Exists(pathOrId) && !Directory.Exists(pathOrId) && !IsEmbedded(pathOrId) && HubNames.IsRepoId(pathOrId);

    /// <summary>The embedded model answers to its name and to its Hub id (the ONNX export of the same weights).</summary>
    public static bool IsEmbedded(string id) => id is DefaultModel.Name or DefaultModel.HubId;

    /// <summary>
    /// Opens a model: resolves <paramref name="pathOrId"/> (<see cref="Resolve"/>), then reads an HF folder (config.json +
    /// safetensors / sharded / pytorch_model.bin), a TorchBert-converted folder (the same layout), or an ONNX export (a
    /// .onnx file, or a folder holding model.onnx and no other weights) whose config is read from config.json when
    /// present, else inferred.
    /// </summary>
    /// <param name="pathOrId">a local folder or .onnx file, the embedded model's name, or a Hub id.</param>
    /// <param name="numAttentionHeads">heads for an ONNX export whose graph doesn't say.</param>
    /// <param name="revision">branch, tag or commit of a Hub id.</param>
    public ModelSource Open(string pathOrId, int? numAttentionHeads = null, string? revision = null) =>
        OpenLocal(Resolve(pathOrId, revision), numAttentionHeads);

    /// <summary><see cref="Open"/> with the Hub download (if any) done asynchronously and cancellable.</summary>
    public async Task<ModelSource> OpenAsync(string pathOrId, int? numAttentionHeads = null, string? revision = null,
        CancellationToken ct = default) =>
        OpenLocal(await ResolveAsync(pathOrId, revision, null, ct).ConfigureAwait(false), numAttentionHeads);

    private static ModelSource OpenLocal(string path, int? numAttentionHeads)
    {
        if (File.Exists(path) && path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            return OpenOnnx(path, numAttentionHeads);
        if (!Directory.Exists(path))
            throw new CheckpointException($"{path}: no such model folder or .onnx file");
        var onnx = Path.Combine(path, "model.onnx");
        if (!HasTorchWeights(path) && File.Exists(onnx)) return OpenOnnx(onnx, numAttentionHeads);
        return ModelSource.OpenFolder(path);
    }

    private static bool HasTorchWeights(string dir) => CheckpointFiles.WeightFileNames.Any(f => File.Exists(Path.Combine(dir, f)));

    private static ModelSource OpenOnnx(string onnxPath, int? heads)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(onnxPath))!;
        var import = OnnxBertImporter.Import(onnxPath, heads);
        var config = import.Config;
        var configPath = Path.Combine(folder, "config.json");
        var notes = new List<string>(import.Notes) { $"num_attention_heads: {import.HeadsSource}" };
        if (File.Exists(configPath))
        {
            var declared = BertConfig.FromFile(configPath);
            ModelSource.CheckArchitecture(declared, configPath);
            config = declared;
            notes.Add("config: config.json beside the .onnx file");
        }
        return new ModelSource(onnxPath, folder, config, import.Weights, notes);
    }
}
