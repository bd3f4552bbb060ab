using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.Json;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using static TorchSharp.torch;

namespace TorchBert.Tests.Checkpoints;

/// <summary>The fixtures read through every format agree with each other and with independent parses of the bytes.</summary>
public class FixtureCheckpointTests
{
    private const string Decoder = "cls.predictions.decoder.weight";
    private const string WordEmbeddings = "bert.embeddings.word_embeddings.weight";

    [Fact]
    public void Mlm_safetensors_and_zip_bin_hold_bit_identical_tensors()
    {
        using var st = SafeTensorsReader.Open(TestFiles.MlmSafeTensors);
        using var bin = TorchZipReader.Open(TestFiles.MlmBin);
        bin.Format.Should().Be("torch zip");
        st.Metadata.Should().Contain("format", "pt");
        var binByName = bin.Tensors.ToDictionary(t => t.Name);
        st.Tensors.Select(t => t.Name).Should().BeEquivalentTo(binByName.Keys.Where(k => k != Decoder));
        binByName.Should().ContainKey(Decoder);
        st.Tensors.Should().HaveCount(42);
        foreach (var t in st.Tensors)
        {
            var b = binByName[t.Name];
            b.DType.Should().Be(t.DType);
            b.Shape.Should().Equal(t.Shape);
            using var x = t.Load();
            using var y = b.Load();
            x.shape.Should().Equal(t.Shape);
            TensorCompare.BitEqual(x, y).Should().BeTrue($"'{t.Name}' must be bit-identical");
        }
    }

    [Fact]
    public void Tied_decoder_in_zip_bin_equals_word_embeddings()
    {
        using var bin = TorchZipReader.Open(TestFiles.MlmBin);
        using var decoder = bin.Tensors.Single(t => t.Name == Decoder).Load();
        using var words = bin.Tensors.Single(t => t.Name == WordEmbeddings).Load();
        decoder.shape.Should().Equal(30522, 32);
        TensorCompare.BitEqual(decoder, words).Should().BeTrue();
    }

    [Fact]
    public void Safetensors_values_match_an_independent_header_parse()
    {
        // Parse the header by hand: [u64 N][JSON][data]; take the word embeddings' offsets and decode raw floats.
        byte[] file = File.ReadAllBytes(TestFiles.MlmSafeTensors);
        long n = BinaryPrimitives.ReadInt64LittleEndian(file);
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
        long begin = doc.RootElement.GetProperty(WordEmbeddings).GetProperty("data_offsets")[0].GetInt64();
        int at = (int)(8 + n + begin);
        using var reader = SafeTensorsReader.Open(TestFiles.MlmSafeTensors);
        using var t = reader.Tensors.Single(x => x.Name == WordEmbeddings).Load();
        var values = t.data<float>();
        foreach (long i in new long[] { 0, 1, 31, 32, 12345, 30522L * 32 - 1 })
            values[i].Should().Be(BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(at + (int)i * 4)));
        values[0].Should().BeApproximately(-0.53395855f, 1e-7f);
    }

    [Fact]
    public void Zip_values_match_the_raw_storage_record()
    {
        // Independent path: System.IO.Compression reads data/0 (the word embeddings' storage key).
        using var zip = ZipFile.OpenRead(TestFiles.MlmBin);
        var entry = zip.GetEntry("pytorch_model/data/0")!;
        using var ms = new MemoryStream();
        using (var s = entry.Open()) s.CopyTo(ms);
        var raw = ms.ToArray();
        using var bin = TorchZipReader.Open(TestFiles.MlmBin);
        using var t = bin.Tensors.Single(x => x.Name == WordEmbeddings).Load();
        t.bytes.ToArray().Should().Equal(raw);
    }

    [Fact]
    public void Legacy_bin_has_old_names_nsp_head_and_position_ids_with_config_shapes()
    {
        var c = BertConfig.FromFile(TestFiles.Fixture("tiny-bert-legacy", "config.json"));
        using var reader = TorchLegacyReader.Open(TestFiles.LegacyBin);
        reader.Format.Should().Be("torch legacy");
        var byName = reader.Tensors.ToDictionary(t => t.Name);
        var expected = ExpectedLegacyShapes(c);
        byName.Keys.Should().BeEquivalentTo(expected.Keys);
        foreach (var (name, shape) in expected)
            byName[name].Shape.Should().Equal(shape, $"shape of '{name}'");
        byName["bert.embeddings.position_ids"].DType.Should().Be(ScalarType.Int64);
        byName.Values.Where(t => t.Name != "bert.embeddings.position_ids").Should().OnlyContain(t => t.DType == ScalarType.Float32);

        using var positions = byName["bert.embeddings.position_ids"].Load();
        using var expectedIds = arange(c.MaxPositionEmbeddings, ScalarType.Int64).unsqueeze(0);
        TensorCompare.BitEqual(positions, expectedIds).Should().BeTrue();
        using var gamma = byName["bert.embeddings.LayerNorm.gamma"].Load();
        gamma.mean().item<float>().Should().BeApproximately(1f, 0.2f, "LayerNorm weights were drawn near 1");
        using var decoder = byName[Decoder].Load();
        using var words = byName[WordEmbeddings].Load();
        TensorCompare.BitEqual(decoder, words).Should().BeTrue("the legacy file ties them to one storage too");
    }

    [Fact]
    public void Legacy_tensor_bytes_are_found_verbatim_in_the_file()
    {
        byte[] file = File.ReadAllBytes(TestFiles.LegacyBin);
        using var reader = TorchLegacyReader.Open(TestFiles.LegacyBin);
        foreach (var name in new[] { WordEmbeddings, "cls.seq_relationship.weight", "bert.encoder.layer.1.output.dense.weight" })
        {
            using var t = reader.Tensors.Single(x => x.Name == name).Load();
            var bytes = t.bytes.ToArray();
            int at = file.AsSpan().IndexOf(bytes);
            at.Should().BeGreaterThan(0, $"'{name}' must come from the file");
            BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(at - 8)).Should().Be(t.numel(), "each storage is preceded by its element count");
        }
    }

    [Fact]
    public void Tensors_load_in_any_order_and_repeatedly()
    {
        using var reader = TorchZipReader.Open(TestFiles.MlmBin);
        var tensors = reader.Tensors.Reverse().ToList();
        using var first = tensors[0].Load();
        foreach (var t in tensors.Skip(1)) t.Load().Dispose();
        using var again = tensors[0].Load();
        TensorCompare.BitEqual(first, again).Should().BeTrue();
    }

    private static Dictionary<string, long[]> ExpectedLegacyShapes(BertConfig c)
    {
        long h = c.HiddenSize, v = c.VocabSize, i = c.IntermediateSize;
        var shapes = new Dictionary<string, long[]>
        {
            [WordEmbeddings] = [v, h],
            ["bert.embeddings.position_embeddings.weight"] = [c.MaxPositionEmbeddings, h],
            ["bert.embeddings.token_type_embeddings.weight"] = [c.TypeVocabSize, h],
            ["bert.embeddings.LayerNorm.gamma"] = [h],
            ["bert.embeddings.LayerNorm.beta"] = [h],
            ["bert.embeddings.position_ids"] = [1, c.MaxPositionEmbeddings],
            ["cls.predictions.bias"] = [v],
            ["cls.predictions.transform.dense.weight"] = [h, h],
            ["cls.predictions.transform.dense.bias"] = [h],
            ["cls.predictions.transform.LayerNorm.gamma"] = [h],
            ["cls.predictions.transform.LayerNorm.beta"] = [h],
            [Decoder] = [v, h],
            ["cls.seq_relationship.weight"] = [2, h],
            ["cls.seq_relationship.bias"] = [2],
        };
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"bert.encoder.layer.{l}.";
            foreach (var m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                shapes[p + m + ".weight"] = [h, h];
                shapes[p + m + ".bias"] = [h];
            }
            foreach (var ln in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                shapes[p + ln + ".gamma"] = [h];
                shapes[p + ln + ".beta"] = [h];
            }
            shapes[p + "intermediate.dense.weight"] = [i, h];
            shapes[p + "intermediate.dense.bias"] = [i];
            shapes[p + "output.dense.weight"] = [h, i];
            shapes[p + "output.dense.bias"] = [h];
        }
        return shapes;
    }
}
