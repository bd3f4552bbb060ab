using TorchBert.Tokenization;

namespace TorchBert.Pipelines;

/// <summary>Finds the tokenizer that belongs to a model path (a folder, or a .onnx file's folder).</summary>
public static class TokenizerLoader
{
    public static BertTokenizer ForModel(string path)
    {
        var folder = File.Exists(path) ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;
        return BertTokenizer.FromFolder(folder);
    }
}
