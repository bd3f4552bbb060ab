using System.IO.Compression;
using TorchBert.Checkpoints;
using static TorchSharp.torch;

namespace TorchBert.Tests.Checkpoints;

/// <summary>Torch-format features the fixtures don't use: views, strides, protocol 4, compression, legacy storage views.</summary>
public class TorchSyntheticTests
{
    // One storage of 12 floats 0..11 viewed several ways.
    private static readonly byte[] Storage = TorchFiles.Floats([.. Enumerable.Range(0, 12).Select(i => (float)i)]);

    private static readonly SyntheticTensor[] Views =
    [
        new("matrix", "0", 12, 0, [3, 4], [4, 1]),
        new("transposed", "0", 12, 0, [4, 3], [1, 4]),
        new("tail", "0", 12, 5, [7], [1]),
        new("every_other", "0", 12, 1, [2, 3], [6, 2]),
        new("expanded", "0", 12, 2, [3, 2], [0, 1]),
        new("empty", "0", 12, 0, [0, 5], [5, 1]),
        new("scalar", "0", 12, 11, [], []),
    ];

    private static void CheckViews(ICheckpointReader reader)
    {
        using var m = arange(12, ScalarType.Float32);
        var expected = new Dictionary<string, Tensor>
        {
            ["matrix"] = m.reshape(3, 4),
            ["transposed"] = m.reshape(3, 4).t(),
            ["tail"] = m[5..],
            ["every_other"] = m.as_strided([2, 3], [6, 2], 1),
            ["expanded"] = m.as_strided([3, 2], [0, 1], 2),
            ["empty"] = zeros(0, 5),
            ["scalar"] = tensor(11f),
        };
        reader.Tensors.Select(t => t.Name).Should().Equal(expected.Keys);
        foreach (var t in reader.Tensors)
        {
            using var loaded = t.Load();
            loaded.is_contiguous().Should().BeTrue();
            TensorCompare.BitEqual(loaded, expected[t.Name].contiguous()).Should().BeTrue($"view '{t.Name}'");
        }
    }

    [Theory]
    [InlineData(CompressionLevel.NoCompression)]
    [InlineData(CompressionLevel.Optimal)]
    public void Zip_views_of_one_storage_load_as_torch_would(CompressionLevel level)
    {
        using var dir = new TempDir();
        string path = dir.File("views.pt");
        TorchFiles.WriteZip(path, TorchFiles.StateDictPickle(Views, legacy: false), [("0", Storage)], folder: "views", level: level);
        using (var handle = File.OpenHandle(path))
            ZipDirectory.Read(handle, RandomAccess.GetLength(handle), path).Should()
                .OnlyContain(e => e.Method == (level == CompressionLevel.NoCompression ? ZipEntry.Stored : ZipEntry.Deflated));
        using var reader = TorchZipReader.Open(path);
        CheckViews(reader);
    }

    [Fact]
    public void Legacy_views_load_as_torch_would()
    {
        using var dir = new TempDir();
        string path = dir.File("views.bin");
        File.WriteAllBytes(path, TorchFiles.Legacy(TorchFiles.StateDictPickle(Views, legacy: true), [("0", Storage, 4)]));
        using var reader = CheckpointFiles.Open(path);
        reader.Should().BeOfType<TorchLegacyReader>();
        CheckViews(reader);
    }

    [Fact]
    public void Legacy_storage_view_metadata_offsets_into_the_root_storage()
    {
        // ('storage', FloatStorage, 'root', 'cpu', 12, ('view', 4, 6)) → storage elements 4..9.
        var p = new PickleBuilder().Proto().EmptyDict().Str("w").Global("torch._utils", "_rebuild_tensor_v2").Mark()
            .Mark().Str("storage").Global("torch", "FloatStorage").Str("root").Str("cpu").Int(12)
            .Mark().Str("view").Int(4).Int(6).Tuple().Tuple().BinPersId()
            .Int(1).IntTuple(2, 2).IntTuple(2, 1).False().None().Tuple().Reduce().SetItem().Stop().ToArray();
        using var dir = new TempDir();
        string path = dir.File("view.bin");
        File.WriteAllBytes(path, TorchFiles.Legacy(p, [("root", Storage, 4)]));
        using var reader = TorchLegacyReader.Open(path);
        using var w = reader.Tensors.Single().Load();
        w.data<float>().ToArray().Should().Equal(5f, 6f, 7f, 8f);
    }

    [Fact]
    public void Protocol_4_pickle_with_frames_stack_globals_and_memo_loads()
    {
        // What pickle.dumps(..., protocol=4) emits: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, BINUNICODE8.
        var body = new PickleBuilder()
            .ShortStr("collections").Memoize().ShortStr("OrderedDict").Memoize().StackGlobal().Memoize()
            .EmptyTuple().Reduce().Memoize()
            .Raw(0x8d, 1, 0, 0, 0, 0, 0, 0, 0, (byte)'w').Memoize()
            .ShortStr("torch._utils").ShortStr("_rebuild_tensor_v2").StackGlobal().Memoize()
            .Mark().Mark().ShortStr("storage").ShortStr("torch").ShortStr("LongStorage").StackGlobal()
            .ShortStr("k").ShortStr("cpu").Raw(0x4b, 3).Tuple().BinPersId()
            .Raw(0x4b, 0).Raw(0x4b, 3).Tuple1().Raw(0x4b, 1).Tuple1().False().BinGet(2).EmptyTuple().Reduce().Tuple()
            .Reduce().SetItem().Stop().ToArray();
        using var dir = new TempDir();
        string path = dir.File("p4.bin");
        TorchFiles.WriteZip(path, HostilePickleTests.Framed(body), [("k", [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0])]);
        using var reader = CheckpointFiles.Open(path);
        var t = reader.Tensors.Single();
        (t.Name, t.DType).Should().Be(("w", ScalarType.Int64));
        using var v = t.Load();
        v.data<long>().ToArray().Should().Equal(1L, 2L, 3L);
    }

    [Fact]
    public void Parameters_and_ordered_dict_state_are_accepted()
    {
        // torch._utils._rebuild_parameter(tensor, requires_grad, hooks) and BUILD of the OrderedDict's _metadata.
        var p = new PickleBuilder().Proto().Global("collections", "OrderedDict").EmptyTuple().Reduce()
            .Str("p").Global("torch._utils", "_rebuild_parameter").Mark()
            .Global("torch._utils", "_rebuild_tensor_v2").Mark()
            .Mark().Str("storage").Global("torch", "HalfStorage").Str("0").Str("cpu").Int(2).Tuple().BinPersId()
            .Int(0).IntTuple(2).IntTuple(1).False().Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce()
            .Raw(0x88).Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce().SetItem()
            .EmptyDict().Str("_metadata").Global("collections", "OrderedDict").EmptyTuple().Reduce().SetItem().Build()
            .Stop().ToArray();
        using var dir = new TempDir();
        string path = dir.File("param.bin");
        TorchFiles.WriteZip(path, p, [("0", [0x00, 0x3c, 0x00, 0xc0])]); // fp16 1.0, -2.0
        using var reader = TorchZipReader.Open(path);
        using var v = reader.Tensors.Single().Load();
        v.dtype.Should().Be(ScalarType.Float16);
        using var f = v.to(ScalarType.Float32);
        f.data<float>().ToArray().Should().Equal(1f, -2f);
    }
}
