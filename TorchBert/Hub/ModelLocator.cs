using TorchBert.Conversion;

namespace TorchBert.Hub;

/// <summary>
/// The one place that turns what a user passes as a model (a local folder or <c>.onnx</c> file, the embedded default
/// model's name, or a Hub id such as <c>bert-base-uncased</c> / <c>org/name</c>) into a local path. A local path that
/// exists always wins; the embedded all-MiniLM-L6-v2 is one entry (imported on first use under
/// <see cref="DefaultModel.WeightsRoot"/>); anything else shaped like a repo id resolves through the Hub cache
/// (<see cref="HubClient"/>, settings from <see cref="HubOptions.Current"/>).
/// </summary>
public static class ModelLocator
{
    /// <summary>Resolves a model: a local path (returned as is), the embedded default, or a Hub id (→ its snapshot folder).</summary>
    public static string Resolve(string pathOrId, string? revision = null, ModelFileSelection? selection = null) =>
        ResolveAsync(pathOrId, revision, selection).GetAwaiter().GetResult();

    /// <inheritdoc cref="Resolve"/>
    public static async Task<string> ResolveAsync(string pathOrId, string? revision = null, ModelFileSelection? selection = null,
        CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrId);
        if (File.Exists(pathOrId) || Directory.Exists(pathOrId)) return pathOrId;
        ct.ThrowIfCancellationRequested();
        if (revision is null && IsEmbedded(pathOrId))
        {
            NativeRuntime.EnsureLoaded();
            return DefaultModel.EnsureInstalled();
        }
        if (!HubNames.IsRepoId(pathOrId)) return pathOrId;   // not a Hub id: the caller reports the missing path
        using var client = new HubClient(HubOptions.Current);
        return await client.DownloadModelAsync(pathOrId, revision, selection, ct).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="pathOrId"/> would go to the Hub (not a local path, not the embedded model).</summary>
    public static bool IsHubId(string pathOrId) =>
        !File.Exists(pathOrId) && !Directory.Exists(pathOrId) && !IsEmbedded(pathOrId) && HubNames.IsRepoId(pathOrId);

    /// <summary>The embedded model answers to its name and to its Hub id (the ONNX export of the same weights).</summary>
    public static bool IsEmbedded(string id) => id is DefaultModel.Name or DefaultModel.HubId;
}
