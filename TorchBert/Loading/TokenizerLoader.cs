using TorchBert.Hub;
using TorchBert.Tokenization;

namespace TorchBert.Loading;

/// <summary>Finds the tokenizer that belongs to a model path (a folder, a .onnx file's folder, or a Hub id).</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// The tokenizer of <paramref name="path"/> (a folder, a .onnx file's folder, the embedded model or a Hub id, resolved
    /// by <paramref name="locator"/>, null = <see cref="ModelLocator.Default"/>; a Hub id downloads only the tokenizer files).
    /// </summary>
    public static BertTokenizer ForModel(string path, string? revision = null, ModelLocator? locator = null) =>
        FromResolved((locator ?? ModelLocator.Default).Resolve(path, revision, new ModelFileSelection { TokenizerOnly = true }));

    /// <summary><see cref="ForModel"/> with the Hub download (if any) done asynchronously and cancellable.</summary>
    public static async Task<BertTokenizer> ForModelAsync(string path, string? revision = null, ModelLocator? locator = null,
        CancellationToken ct = default) =>
        FromResolved(await (locator ?? ModelLocator.Default).ResolveAsync(path, revision, new ModelFileSelection { TokenizerOnly = true }, ct).ConfigureAwait(false));

    private static BertTokenizer FromResolved(string path)
    {
        var folder = File.Exists(path) ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;
        return BertTokenizer.FromFolder(folder);
    }
}
