using System.Buffers.Binary;
using System.Text.Json;
using TorchBert.Checkpoints;
using static TorchSharp.torch;

namespace TorchBert.Tests.Checkpoints;

public class SafeTensorsWriterTests
{
    private static Dictionary<string, Tensor> Sample()
    {
        using var g = new TorchSharp.torch.Generator(1234);
        return new Dictionary<string, Tensor>
        {
            ["f32"] = randn([3, 5], generator: g),
            ["f16"] = randn([7], generator: g).to(ScalarType.Float16),
            ["bf16"] = randn([2, 3, 4], generator: g).to(ScalarType.BFloat16),
            ["i64"] = arange(-5, 6, ScalarType.Int64).reshape(1, 11),
            ["a.scalar"] = tensor(3.5f),
            ["empty"] = zeros([0, 4]),
        };
    }

    [Fact]
    public void Round_trip_keeps_dtypes_shapes_bytes_and_metadata()
    {
        using var dir = new TempDir();
        string path = dir.File("out.safetensors");
        var tensors = Sample();
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"x\"" });

        using var reader = SafeTensorsReader.Open(path);
        reader.Metadata.Should().BeEquivalentTo(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"x\"" });
        reader.Tensors.Select(t => t.Name).Should().Equal(tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var t in reader.Tensors)
        {
            t.DType.Should().Be(tensors[t.Name].dtype);
            using var back = t.Load();
            TensorCompare.BitEqual(back, tensors[t.Name]).Should().BeTrue($"'{t.Name}' round-trips");
        }
        tensors.Values.Should().OnlyContain(t => !t.IsInvalid, "the writer must not dispose the caller's tensors");
    }

    [Fact]
    public void Layout_is_hf_compatible_aligned_header_and_contiguous_offsets()
    {
        using var dir = new TempDir();
        string path = dir.File("out.safetensors");
        var tensors = Sample();
        SafeTensorsWriter.Write(path, tensors);
        byte[] file = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(file);
        n.Should().BeGreaterThan(0);
        (n % 8).Should().Be(0, "HF pads the header so data starts 8-byte aligned");
        file[(int)(8 + n - 1)].Should().BeOneOf((byte)' ', (byte)'}');
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
        doc.RootElement.TryGetProperty("__metadata__", out _).Should().BeFalse();
        long expectedBegin = 0;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var offs = p.Value.GetProperty("data_offsets");
            offs[0].GetInt64().Should().Be(expectedBegin, $"'{p.Name}' follows the previous tensor");
            expectedBegin = offs[1].GetInt64();
        }
        (8 + n + expectedBegin).Should().Be(file.Length, "data ends exactly at the end of the file");
        doc.RootElement.GetProperty("bf16").GetProperty("dtype").GetString().Should().Be("BF16");
        doc.RootElement.GetProperty("i64").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).Should().Equal(1, 11);
        // The raw bytes of a tensor sit at its offsets.
        var f32 = doc.RootElement.GetProperty("f32").GetProperty("data_offsets")[0].GetInt64();
        BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan((int)(8 + n + f32))).Should().Be(tensors["f32"][0, 0].item<float>());
    }

    [Fact]
    public void Non_contiguous_input_is_written_in_logical_order()
    {
        using var dir = new TempDir();
        string path = dir.File("t.safetensors");
        using var m = arange(12, ScalarType.Float32).reshape(3, 4);
        using var t = m.t();
        t.is_contiguous().Should().BeFalse();
        SafeTensorsWriter.Write(path, [new("t", t)]);
        using var reader = SafeTensorsReader.Open(path);
        using var back = reader.Tensors[0].Load();
        TensorCompare.BitEqual(back, t.contiguous()).Should().BeTrue();
    }

    [Fact]
    public void Overwrites_atomically_and_leaves_no_temp_files()
    {
        using var dir = new TempDir();
        string path = dir.File("w.safetensors");
        File.WriteAllText(path, "old");
        SafeTensorsWriter.Write(path, [new("x", ones(2))]);
        Directory.GetFiles(dir.Path).Should().ContainSingle().Which.Should().Be(path);
        using var reader = SafeTensorsReader.Open(path);
        reader.Tensors.Single().Name.Should().Be("x");
    }

    [Fact]
    public void Bad_input_is_refused_without_touching_the_target()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.safetensors");
        var act1 = () => SafeTensorsWriter.Write(path, [new("a", ones(1)), new("a", ones(1))]);
        act1.Should().Throw<ArgumentException>().WithMessage("*'a' appears twice*");
        var act2 = () => SafeTensorsWriter.Write(path, [new("c", ones(1, ScalarType.ComplexFloat32))]);
        act2.Should().Throw<ArgumentException>().WithMessage("*'c'*");
        var act3 = () => SafeTensorsWriter.Write(path, [new("__metadata__", ones(1))]);
        act3.Should().Throw<ArgumentException>();
        Directory.GetFiles(dir.Path).Should().BeEmpty();
    }

    [Fact]
    public void Chunked_memory_access_visits_large_tensors_piecewise()
    {
        // The > 2 GiB path (narrow() views) exercised with a tiny chunk size.
        using var t = arange(10, ScalarType.Int64);
        var seen = new List<long>();
        TensorMemory.Drain(t, chunk => seen.AddRange(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(chunk).ToArray()), maxChunkBytes: 24);
        seen.Should().Equal(Enumerable.Range(0, 10).Select(i => (long)i));
        using var u = empty(10, ScalarType.Int64);
        var offsets = new List<long>();
        TensorMemory.Fill(u, (chunk, at) => { offsets.Add(at); chunk.Fill(1); }, maxChunkBytes: 24);
        offsets.Should().Equal(0, 24, 48, 72);
        u.sum().item<long>().Should().Be(10 * 0x0101010101010101L);
    }
}
