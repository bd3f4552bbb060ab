using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

/// <summary>docs/library.md's custom pipeline, compiled and run, so the page stays true.</summary>
public class ReadmeSampleTests
{
    private sealed class TopTokenPipeline(BertForMaskedLM m, BertTokenizer t) : Pipeline<BertForMaskedLM, MaskedLMOutput, string>(m, t, null)
    {
        protected override MaskedLMOutput Forward(ModelInputs inputs) => Model.forward(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds);
        protected override IReadOnlyList<string> Postprocess(ModelInputs inputs, MaskedLMOutput o) =>
            o.Logits.argmax(-1).cpu().data<long>().Chunk((int)o.Logits.shape[1]).Select(r => Tokenizer.Decode(r)).ToList();
    }

    [Fact]
    public void Custom_pipeline_from_the_readme_runs()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        using var pipe = new TopTokenPipeline(BertForMaskedLM.FromPretrained(dir), BertTokenizer.FromFolder(dir));
        var text = pipe.Run("Hello, Mr. Bert! How is it [MASK]?");
        using var fill = FillMaskPipeline.FromPretrained(dir, topK: 1);
        var best = fill.Run("Hello, Mr. Bert! How is it [MASK]?")[0][0];
        text.Split(' ').Should().Contain(best.TokenStr, "argmax at the mask is fill-mask's top-1");
    }
}

/// <summary>docs/library.md's fine-tuning-start example, run on the tiny MLM fixture (a base checkpoint with bert-base's vocab).</summary>
public class ReadmeHeadSampleTests
{
    [Fact]
    public void Base_checkpoint_into_a_classifier_with_new_labels_runs_as_the_readme_says()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        var tok = BertTokenizer.FromFolder(dir);
        var batch = tok.EncodeBatch(["What a great day!"]);
        using var clf = BertForSequenceClassification.FromPretrained(dir,
            new PretrainedOptions { ConfigureConfig = c => c.SetLabels(["negative", "neutral", "positive"]) });
        string.Join(", ", clf.LoadReport!.NewlyInitialized).Should().Be("bert.pooler.dense.weight, bert.pooler.dense.bias, classifier.weight, classifier.bias");
        using var scope = NewDisposeScope();
        var ids = tensor(batch.FlatInputIds(), batch.Shape, device: clf.Device);
        using var o = clf.forward(ids, labels: tensor(new long[] { 2 }, device: clf.Device));
        o.Loss!.item<float>().Should().BeApproximately(MathF.Log(3), 0.2f, "a fresh head's logits are small");
        o.Logits.shape.Should().Equal(1, 3);
    }
}
