namespace TorchBert.Tests.Checkpoints;

/// <summary>Fixture paths and a self-deleting temp folder.</summary>
internal static class TestFiles
{
    public static string Fixture(string folder, string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", folder, file);
    public static string MlmSafeTensors => Fixture("tiny-bert-mlm", "model.safetensors");
    public static string MlmBin => Fixture("tiny-bert-mlm", "pytorch_model.bin");
    public static string LegacyBin => Fixture("tiny-bert-legacy", "pytorch_model.bin");
    public static string GeluNewSafeTensors => Fixture("tiny-bert-gelu-new", "model.safetensors");
}

internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("torchbert-ckpt-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

internal static class TensorCompare
{
    /// <summary>Same dtype, shape and values (torch.equal), and the same bytes (so -0.0/NaN payloads count too).</summary>
    public static bool BitEqual(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b)
    {
        if (a.dtype != b.dtype || !a.shape.SequenceEqual(b.shape)) return false;
        using var eq = TorchSharp.torch.equal(a, b); // elementwise in TorchSharp
        using var same = eq.all();
        if (!same.item<bool>()) return false;
        using var ca = a.contiguous();
        using var cb = b.contiguous();
        return a.numel() == 0 || ca.bytes.SequenceEqual(cb.bytes);
    }
}
