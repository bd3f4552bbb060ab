using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

/// <summary>The README's custom pipeline, compiled and run, so the README stays true.</summary>
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
