using TorchBert.Tokenization;

namespace TorchBert.Pipelines;

/// <summary>Finds the tokenizer that belongs to a model path (a folder, a .onnx file's folder, or a Hub id).</summary>
public static class TokenizerLoader
{
    /// <summary>The tokenizer of the model folder or Hub id <paramref name="path"/> (vocab.txt or tokenizer.json with its configs).</summary>
    public static BertTokenizer ForModel(string path, string? revision = null)
    {
        path = Hub.ModelLocator.Resolve(path, revision, new Hub.ModelFileSelection { TokenizerOnly = true });
        var folder = File.Exists(path) ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;
        return BertTokenizer.FromFolder(folder);
    }
}
