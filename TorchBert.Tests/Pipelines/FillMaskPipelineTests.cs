using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

public sealed class FillMaskPipelineTests : IClassFixture<FillMaskPipelineTests.Mlm>
{
    public sealed class Mlm : IDisposable
    {
        public string Dir { get; } = Fixtures.Dir("tiny-bert-mlm");
        public FillMaskPipeline Pipe { get; } = FillMaskPipeline.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PipelineOptions { Device = CPU });
        public void Dispose() => Pipe.Dispose();
    }

    private readonly Mlm fixture;
    public FillMaskPipelineTests(Mlm fixture) => this.fixture = fixture;

    /// <summary>A pipeline fed the fixture's recorded ids: Postprocess ranks exactly as HF's expected logits do.</summary>
    private sealed class RecordedInputsPipeline(BertForMaskedLM model, BertTokenizer tokenizer, Dictionary<string, Tensor> expected, int topK)
        : FillMaskPipeline(model, tokenizer, new PipelineOptions { Device = CPU }, topK)
    {
        public int PreprocessCalls;

        protected override ModelInputs Preprocess(IReadOnlyList<string> texts)
        {
            PreprocessCalls++;
            var index = tensor(texts.Select(long.Parse).ToArray());
            var (ids, mask, types) = (expected["input_ids"].index_select(0, index), expected["attention_mask"].index_select(0, index),
                expected["token_type_ids"].index_select(0, index));
            var rows = Enumerable.Range(0, (int)ids.shape[0]).Select(r =>
            {
                var row = ids[r].data<long>().ToArray();
                return new BertEncoding(row, types[r].data<long>().ToArray(), mask[r].data<long>().ToArray(), new long[row.Length],
                    Tokenizer.ConvertIdsToTokens(row), new (int, int)[row.Length]);
            }).ToList();
            return new ModelInputs(texts, new BatchEncoding(rows), ids, mask, types);
        }
    }

    [Fact]
    public void Top_k_equals_the_ranking_of_hfs_expected_logits()
    {
        var e = Fixtures.Expected("tiny-bert-mlm");
        var model = BertForMaskedLM.FromPretrained(fixture.Dir, new PretrainedOptions { Device = CPU });
        using var pipe = new RecordedInputsPipeline(model, fixture.Pipe.Tokenizer, e, topK: 10);
        var results = pipe.Run(["0", "1"]);
        pipe.PreprocessCalls.Should().Be(1, "the overridden step ran");

        foreach (var (row, col) in new[] { (0, 3), (1, 2) })
        {
            var probs = e["logits"][row, col].softmax(-1);
            var (values, indices) = probs.topk(10);
            var got = results[row].Should().ContainSingle().Subject;
            got.Select(r => r.Token).Should().Equal(indices.data<long>().ToArray(), $"top-10 at ({row}, {col})");
            got.Select(r => r.Score).Should().Equal(values.data<float>().ToArray().Select(v => (double)v), (a, b) => Math.Abs(a - b) < 1e-5);
            got.Should().BeInDescendingOrder(r => r.Score);
            got[0].TokenStr.Should().Be(fixture.Pipe.Tokenizer.Decode([got[0].Token]));
        }
    }

    [Fact]
    public void Text_input_gives_hf_result_fields_and_sequences()
    {
        var result = fixture.Pipe.Run("Hello, Mr. Bert! How is it [MASK]?");
        var candidates = result.Should().ContainSingle().Subject;
        candidates.Should().HaveCount(5).And.BeInDescendingOrder(c => c.Score);
        foreach (var c in candidates)
        {
            c.Sequence.Should().Be($"hello, mr. bert! how is it {c.TokenStr}?");
            c.TokenStr.Should().Be(fixture.Pipe.Tokenizer.ConvertIdToToken(c.Token).Replace("##", ""));
        }
        candidates.Sum(c => c.Score).Should().BeLessThan(1.0);
    }

    [Fact]
    public void Several_masks_give_one_list_each_with_special_tokens_kept_as_hf_does()
    {
        var result = fixture.Pipe.Run("Paris is the [MASK] of [MASK].");
        result.Should().HaveCount(2);
        result[0][0].Sequence.Should().Be($"[CLS] paris is the {result[0][0].TokenStr} of [MASK]. [SEP]");
        result[1][0].Sequence.Should().Be($"[CLS] paris is the [MASK] of {result[1][0].TokenStr}. [SEP]");
    }

    [Fact]
    public void Targets_restrict_candidates_with_full_vocabulary_probabilities()
    {
        var all = fixture.Pipe.Run("Hello, Mr. Bert! How is it [MASK]?")[0];
        using var pipe = new FillMaskPipeline(BertForMaskedLM.FromPretrained(fixture.Dir), fixture.Pipe.Tokenizer,
            new PipelineOptions { Device = CPU }, topK: 10, targets: ["good", "fine", "zebraxx", all[1].TokenStr]);
        pipe.Warnings.Should().ContainSingle().Which.Should().Contain("'zebraxx' is not in the vocabulary; using 'zebra'");
        var got = pipe.Run("Hello, Mr. Bert! How is it [MASK]?")[0];
        got.Should().HaveCount(4, "top_k is clipped to the number of targets");
        got.Select(c => c.TokenStr).Should().BeEquivalentTo("good", "fine", "zebra", all[1].TokenStr);
        got.Single(c => c.Token == all[1].Token).Score.Should().BeApproximately(all[1].Score, 1e-7, "softmax is over the whole vocabulary, as HF");
        got.Should().BeInDescendingOrder(c => c.Score);
    }

    [Fact]
    public void Batch_results_equal_one_by_one_results()
    {
        string[] inputs = ["The [MASK] is blue.", "A much longer sentence about the [MASK] that needs padding in a batch.", "[MASK]"];
        var batch = fixture.Pipe.Run(inputs);
        for (int i = 0; i < inputs.Length; i++)
        {
            var single = fixture.Pipe.Run(inputs[i]);
            batch[i][0].Select(c => c.Token).Should().Equal(single[0].Select(c => c.Token));
            batch[i][0].Select(c => c.Score).Should().Equal(single[0].Select(c => c.Score), (a, b) => Math.Abs(a - b) < 1e-6);
        }
        batch[2][0][0].Sequence.Should().Be(batch[2][0][0].TokenStr, "a lone mask decodes to the token alone (special tokens skipped)");
    }

    [Fact]
    public void Bad_calls_get_errors_naming_the_problem()
    {
        ((Action)(() => fixture.Pipe.Run(["fine [MASK]", "no mask here"]))).Should().Throw<ArgumentException>().WithMessage("input 1 has no [MASK] token: \"no mask here\"");
        ((Action)(() => fixture.Pipe.Run(""))).Should().Throw<ArgumentException>().WithMessage("input 0 has no [MASK]*");
        ((Action)(() => new FillMaskPipeline(BertForMaskedLM.FromPretrained(fixture.Dir), fixture.Pipe.Tokenizer, topK: 0))).Should().Throw<ArgumentException>().WithMessage("top_k must be >= 1, got 0");
        var longText = string.Join(' ', Enumerable.Repeat("word", 80)) + " [MASK]";
        ((Action)(() => fixture.Pipe.Run(longText))).Should().Throw<ArgumentException>().WithMessage("input 0 is 83 tokens long; the model takes at most 64*");
    }

    [Fact]
    public void Verbose_mode_shows_the_tensors_flowing()
    {
        var log = new ListLogger();
        using var pipe = new FillMaskPipeline(BertForMaskedLM.FromPretrained(fixture.Dir), fixture.Pipe.Tokenizer, new PipelineOptions { Verbose = true, Logger = log });
        pipe.Run("Hello, Mr. Bert! How is it [MASK]?");
        var text = log.ToString();
        text.Should().Contain("tokens[0]: [CLS] hello , mr . bert ! how is it [MASK] ? [SEP]");
        text.Should().Contain("[preprocess] input_ids: shape (1, 13) Int64 on cpu");
        text.Should().Contain("first row: [101, 7592, 1010, 2720, 1012, 14324, 999, 2129, 2003, 2009, 103, 1029, ...]");
        text.Should().Contain("[forward] logits: shape (1, 13, 30522) Float32");
        text.Should().Contain("[postprocess] top-k probabilities: shape (1, 5)");
    }
}
