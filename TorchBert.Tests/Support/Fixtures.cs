using System.Buffers.Binary;
using System.Text.Json;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Support;

/// <summary>Paths of the fixture folders copied next to the test assembly.</summary>
public static class Fixtures
{
    public static readonly string[] All = ["tiny-bert-mlm", "tiny-bert-gelu-new", "tiny-bert-relative-key", "tiny-bert-legacy"];
    public static string Dir(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
    public static BertConfig Config(string name) => BertConfig.FromFile(Path.Combine(Dir(name), "config.json"));

    /// <summary>expected.safetensors of a fixture, read by <see cref="ReferenceSafeTensors"/>.</summary>
    public static Dictionary<string, Tensor> Expected(string name) => ReferenceSafeTensors.Read(Path.Combine(Dir(name), "expected.safetensors"));
}

/// <summary>
/// Folders that live as long as the test process (shared model folders, the private HF_HOME): deleted when it exits,
/// so repeated runs do not fill the disk.
/// </summary>
public static class ProcessTempFolders
{
    /// <summary>Creates <c>$TMP/{name}-{pid}</c> (if missing) and deletes it when the process exits.</summary>
    public static string Create(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{name}-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return dir;
    }
}

/// <summary>
/// A deliberately naive safetensors reader (whole file, F32/I64 only) used as an independent reference in tests,
/// so the library's own reader is checked against something it doesn't share code with.
/// </summary>
public static class ReferenceSafeTensors
{
    public static Dictionary<string, Tensor> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, n));
        var result = new Dictionary<string, Tensor>();
        foreach (var p in header.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => (int)e.GetInt64()).ToArray();
            var data = bytes.AsSpan(8 + n + offsets[0], offsets[1] - offsets[0]);
            result[p.Name] = p.Value.GetProperty("dtype").GetString() switch
            {
                "F32" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray(), shape),
                "I64" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(data).ToArray(), shape),
                var d => throw new NotSupportedException($"reference reader: dtype {d}"),
            };
        }
        return result;
    }

    /// <summary>The same tensors as an <see cref="ICheckpointReader"/>.</summary>
    public static ICheckpointReader AsCheckpoint(string path) => new InMemoryCheckpoint(path, Read(path));

    private sealed class InMemoryCheckpoint(string path, Dictionary<string, Tensor> tensors) : ICheckpointReader
    {
        public string Path => path;
        public string Format => "reference safetensors";
        public IReadOnlyList<CheckpointTensor> Tensors { get; } = tensors.Select(kv => (CheckpointTensor)new Entry(kv.Key, kv.Value)).ToList();
        public void Dispose() { foreach (var t in tensors.Values) t.Dispose(); }
    }

    private sealed class Entry(string name, Tensor t) : CheckpointTensor(name, t.dtype, t.shape)
    {
        public override Tensor Load() => t.clone();
    }
}

public static class TensorAssert
{
    /// <summary>Asserts same shape and max |a - b| ≤ tol, reporting the max difference and where.</summary>
    public static void Close(Tensor actual, Tensor expected, double tol, string what)
    {
        actual.shape.Should().Equal(expected.shape, $"shape of {what}");
        using var scope = NewDisposeScope();
        var diff = (actual.to(float64) - expected.to(float64)).abs();
        var max = diff.max().item<double>();
        max.Should().BeLessThanOrEqualTo(tol, $"{what}: max |diff| {max:E3} at flat index {diff.argmax().item<long>()}");
    }
}
