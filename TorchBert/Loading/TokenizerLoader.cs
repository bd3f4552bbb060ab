using TorchBert.Hub;
using TorchBert.Tokenization;

namespace TorchBert.Loading;

/// <summary>Finds the tokenizer that belongs to a model path (a folder, a .onnx file's folder, or a Hub id).</summary>
public static class TokenizerLoader
{
    /// <summary>The tokenizer of <paramref name="path"/> (resolved by <see cref="ModelLocator"/>; a Hub id downloads only the tokenizer files).</summary>
    public static BertTokenizer ForModel(string path, string? revision = null)
    {
        path = ModelLocator.Resolve(path, revision, new ModelFileSelection { TokenizerOnly = true });
        var folder = File.Exists(path) ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;
        return BertTokenizer.FromFolder(folder);
    }
}
