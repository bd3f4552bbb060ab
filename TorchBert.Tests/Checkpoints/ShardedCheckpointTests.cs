using System.Text.Json;
using TorchBert.Checkpoints;
using static TorchSharp.torch;

namespace TorchBert.Tests.Checkpoints;

public class ShardedCheckpointTests
{
    private static void WriteShards(TempDir dir, Dictionary<string, string>? overrideMap = null)
    {
        SafeTensorsWriter.Write(dir.File("model-00001-of-00002.safetensors"), [new("a", arange(4, ScalarType.Float32)), new("b", ones(2, 3))]);
        SafeTensorsWriter.Write(dir.File("model-00002-of-00002.safetensors"), [new("c", full(5, 7L))]);
        var map = overrideMap ?? new Dictionary<string, string>
        {
            ["a"] = "model-00001-of-00002.safetensors",
            ["c"] = "model-00002-of-00002.safetensors",
            ["b"] = "model-00001-of-00002.safetensors",
        };
        File.WriteAllText(dir.File("model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { total_size = 80 }, weight_map = map }));
    }

    [Fact]
    public void Opens_two_shards_through_the_index_each_once()
    {
        using var dir = new TempDir();
        WriteShards(dir);
        using var reader = ShardedSafeTensorsReader.Open(dir.File("model.safetensors.index.json"));
        reader.Format.Should().Be("sharded safetensors");
        reader.Shards.Should().HaveCount(2);
        reader.Metadata["total_size"].Should().Be("80");
        reader.Tensors.Select(t => t.Name).Should().Equal("a", "c", "b");
        using var c = reader.Tensors[1].Load();
        c.dtype.Should().Be(ScalarType.Int64);
        c.data<long>().ToArray().Should().Equal(7, 7, 7, 7, 7);
        using var a = reader.Tensors[0].Load();
        a.data<float>().ToArray().Should().Equal(0f, 1f, 2f, 3f);
    }

    [Fact]
    public void Folder_prefers_single_file_then_index()
    {
        using var dir = new TempDir();
        WriteShards(dir);
        using (var viaFolder = CheckpointFiles.OpenFolder(dir.Path))
            viaFolder.Should().BeOfType<ShardedSafeTensorsReader>();
        SafeTensorsWriter.Write(dir.File("model.safetensors"), [new("z", ones(1))]);
        using (var single = CheckpointFiles.OpenFolder(dir.Path))
            single.Should().BeOfType<SafeTensorsReader>().Which.Tensors.Single().Name.Should().Be("z");
    }

    [Fact]
    public void Missing_shard_is_named()
    {
        using var dir = new TempDir();
        WriteShards(dir);
        File.Delete(dir.File("model-00002-of-00002.safetensors"));
        var act = () => ShardedSafeTensorsReader.Open(dir.File("model.safetensors.index.json"));
        act.Should().Throw<CheckpointException>()
            .WithMessage("*model.safetensors.index.json*shard 'model-00002-of-00002.safetensors'*does not exist*");
    }

    [Fact]
    public void Key_missing_from_its_shard_is_named()
    {
        using var dir = new TempDir();
        WriteShards(dir, new() { ["a"] = "model-00001-of-00002.safetensors", ["c"] = "model-00001-of-00002.safetensors" });
        var act = () => ShardedSafeTensorsReader.Open(dir.File("model.safetensors.index.json"));
        act.Should().Throw<CheckpointException>().WithMessage("*'c' in shard 'model-00001-of-00002.safetensors'*no such tensor*");
    }

    [Theory]
    [InlineData("{\"weight_map\": {\"a\": \"../escape.safetensors\"}}", "not a shard file name")]
    [InlineData("{\"weight_map\": {\"a\": \"/etc/passwd\"}}", "not a shard file name")]
    [InlineData("{\"weight_map\": {\"a\": 3}}", "not a shard file name")]
    [InlineData("{\"metadata\": {}}", "no 'weight_map'")]
    [InlineData("{oops", "invalid JSON")]
    public void Bad_index_files_are_refused(string json, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("model.safetensors.index.json"), json);
        var act = () => CheckpointFiles.Open(dir.File("model.safetensors.index.json"));
        act.Should().Throw<CheckpointException>().WithMessage($"*{expected}*");
    }

    [Fact]
    public void Sharded_bin_index_opens_torch_shards()
    {
        using var dir = new TempDir();
        File.Copy(TestFiles.LegacyBin, dir.File("pytorch_model-00001-of-00001.bin"));
        File.WriteAllText(dir.File("pytorch_model.bin.index.json"), JsonSerializer.Serialize(new
        {
            weight_map = new Dictionary<string, string> { ["cls.seq_relationship.bias"] = "pytorch_model-00001-of-00001.bin" },
        }));
        using var reader = CheckpointFiles.OpenFolder(dir.Path);
        reader.Format.Should().Be("sharded torch legacy");
        reader.Tensors.Single().Shape.Should().Equal(2);
    }

    [Fact]
    public void Folder_without_weights_lists_what_it_looked_for()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{}");
        var act = () => CheckpointFiles.OpenFolder(dir.Path);
        act.Should().Throw<CheckpointException>()
            .WithMessage("*no weights file*model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json*");
    }

    [Theory]
    [InlineData("tiny-bert-mlm", typeof(SafeTensorsReader))]
    [InlineData("tiny-bert-legacy", typeof(TorchLegacyReader))]
    public void Fixture_folders_open_with_the_expected_reader(string folder, Type readerType)
    {
        using var reader = CheckpointFiles.OpenFolder(Path.GetDirectoryName(TestFiles.Fixture(folder, "x"))!);
        reader.Should().BeOfType(readerType);
    }

    [Fact]
    public void Single_files_are_sniffed_by_content_not_name()
    {
        using var dir = new TempDir();
        File.Copy(TestFiles.MlmBin, dir.File("weights.pt"));
        File.Copy(TestFiles.GeluNewSafeTensors, dir.File("weights.bin"));
        using (var zip = CheckpointFiles.Open(dir.File("weights.pt"))) zip.Should().BeOfType<TorchZipReader>();
        using (var st = CheckpointFiles.Open(dir.File("weights.bin"))) st.Should().BeOfType<SafeTensorsReader>();
        File.WriteAllText(dir.File("junk.bin"), "this is not a checkpoint at all");
        var act = () => CheckpointFiles.Open(dir.File("junk.bin"));
        act.Should().Throw<CheckpointException>().WithMessage("*unrecognized checkpoint format*");
    }
}
