using System.IO.Compression;
using TorchBert.Checkpoints;
using static TorchSharp.torch;

namespace TorchBert.Tests.Checkpoints;

/// <summary>
/// <see cref="CheckpointTensor.LoadInto"/>: straight reads into contiguous targets of the checkpoint dtype, Load + copy_
/// for everything else (strided views in the file, other dtypes, strided targets); the same values either way.
/// </summary>
public class LoadIntoTests
{
    private static readonly byte[] Storage = TorchFiles.Floats([.. Enumerable.Range(0, 12).Select(i => (float)i)]);

    private static readonly SyntheticTensor[] Views =
    [
        new("matrix", "0", 12, 0, [3, 4], [4, 1]),
        new("transposed", "0", 12, 0, [4, 3], [1, 4]),
        new("tail", "0", 12, 5, [7], [1]),
        new("expanded", "0", 12, 2, [3, 2], [0, 1]),
        new("empty", "0", 12, 0, [0, 5], [5, 1]),
        new("scalar", "0", 12, 11, [], []),
    ];

    public static TheoryData<string> Formats => new() { "safetensors", "zip", "zip deflated", "legacy" };

    private static ICheckpointReader Open(string format, TempDir dir)
    {
        string path = dir.File("views");
        var pickle = TorchFiles.StateDictPickle(Views, legacy: format == "legacy");
        switch (format)
        {
            case "safetensors":
                using (var reference = TorchZipReader.Open(WriteZip()))
                {
                    var loaded = reference.Tensors.Select(t => new KeyValuePair<string, Tensor>(t.Name, t.Load())).ToList();
                    SafeTensorsWriter.Write(path, loaded);
                    loaded.ForEach(kv => kv.Value.Dispose());
                }
                return CheckpointFiles.Open(path);
            case "legacy":
                File.WriteAllBytes(path, TorchFiles.Legacy(pickle, [("0", Storage, 4)]));
                return CheckpointFiles.Open(path);
            default:
                return TorchZipReader.Open(WriteZip(format == "zip" ? CompressionLevel.NoCompression : CompressionLevel.Optimal));
        }

        string WriteZip(CompressionLevel level = CompressionLevel.NoCompression)
        {
            string zip = dir.File($"views-{level}.pt");
            if (!File.Exists(zip)) TorchFiles.WriteZip(zip, TorchFiles.StateDictPickle(Views, legacy: false), [("0", Storage)], level: level);
            return zip;
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Into_a_contiguous_target_of_the_same_dtype_gives_what_load_gives(string format)
    {
        using var dir = new TempDir();
        using var reader = Open(format, dir);
        reader.Tensors.Should().HaveCount(Views.Length);
        foreach (var t in reader.Tensors)
        {
            using var expected = t.Load();
            using var target = full(t.Shape, float.NaN);
            t.LoadInto(target);
            TensorCompare.BitEqual(target, expected).Should().BeTrue($"{format}: '{t.Name}'");
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Into_another_dtype_or_a_strided_target_converts_and_copies(string format)
    {
        using var dir = new TempDir();
        using var reader = Open(format, dir);
        foreach (var t in reader.Tensors)
        {
            using var expected = t.Load();
            using var asDouble = expected.to(ScalarType.Float64);
            using var wide = full(t.Shape, double.NaN, ScalarType.Float64);
            t.LoadInto(wide);
            TensorCompare.BitEqual(wide, asDouble).Should().BeTrue($"{format}: '{t.Name}' as float64");
            if (t.Shape.Length != 2) continue;
            using var storage = full([t.Shape[1], t.Shape[0]], float.NaN);
            using var strided = storage.t();                                      // same shape, not contiguous
            t.LoadInto(strided);
            TensorCompare.BitEqual(strided, expected).Should().BeTrue($"{format}: '{t.Name}' into a strided target");
        }
    }

    [Fact]
    public void A_target_of_another_shape_is_refused()
    {
        using var reader = SafeTensorsReader.Open(TestFiles.MlmSafeTensors);
        var t = reader.Tensors.First(x => x.Shape.Length == 2);
        using var target = empty(t.Shape[0] + 1, t.Shape[1]);
        ((Action)(() => t.LoadInto(target))).Should().Throw<ArgumentException>().WithMessage($"*{t.Name}*");
    }
}
