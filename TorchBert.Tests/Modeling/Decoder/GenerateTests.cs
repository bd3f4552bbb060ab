using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Decoder;

/// <summary>BertLMHeadModel.Generate: greedy = argmax of full forwards (no cache), seeded sampling, HF's warpers, eos.</summary>
public class GenerateTests
{
    private static Tensor Prompt() => Fixtures.Expected("tiny-bert-lmhead")["cache.input_ids"][.., ..4]; // (2, 4)

    /// <summary>The reference: one full forward per new token, no cache, argmax of the last position.</summary>
    private static long[,] GreedyByFullForwards(BertLMHeadModel model, Tensor prompt, int steps)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = prompt;
        for (int s = 0; s < steps; s++)
        {
            var logits = model.forward(ids, useCache: false).Logits;
            ids = cat([ids, logits[.., -1, ..].argmax(-1).unsqueeze(1)], 1);
        }
        return ToArray(ids);
    }

    private static long[,] ToArray(Tensor ids)
    {
        var data = ids.data<long>().ToArray();
        var result = new long[ids.shape[0], ids.shape[1]];
        Buffer.BlockCopy(data, 0, result, 0, data.Length * sizeof(long));
        return result;
    }

    private static long[,] Run(BertLMHeadModel model, GenerationOptions options, Tensor? prompt = null)
    {
        using var ids = model.Generate(prompt ?? Prompt(), options);
        return ToArray(ids);
    }

    [Theory]
    [InlineData(AttentionImplementation.Eager)]
    [InlineData(AttentionImplementation.Sdpa)]
    public void Greedy_equals_argmax_of_full_forwards_step_by_step(AttentionImplementation attn)
    {
        using var model = LMHeadFixtureTests.Load(attn);
        var expected = GreedyByFullForwards(model, Prompt(), 8);
        Run(model, new GenerationOptions { MaxNewTokens = 8 }).Should().BeEquivalentTo(expected, o => o.WithStrictOrdering());
        Run(model, new GenerationOptions { MaxNewTokens = 0 }).Should().BeEquivalentTo(ToArray(Prompt()));
    }

    [Fact]
    public void Sampling_is_reproducible_with_a_seed_and_top_k_1_or_a_tiny_top_p_is_greedy()
    {
        using var model = LMHeadFixtureTests.Load(AttentionImplementation.Sdpa);
        var greedy = Run(model, new GenerationOptions { MaxNewTokens = 6 });
        var sampling = new GenerationOptions { MaxNewTokens = 6, DoSample = true, TopK = 0, Temperature = 3.0, Seed = 42 };
        var first = Run(model, sampling);
        Run(model, sampling).Should().BeEquivalentTo(first, o => o.WithStrictOrdering(), "same seed, same tokens");
        var seeds = Enumerable.Range(0, 4).Select(s => Run(model, sampling with { Seed = (ulong)s })).ToList();
        seeds.Should().Contain(r => !r.Cast<long>().SequenceEqual(greedy.Cast<long>()), "at temperature 3 sampling does not always pick the argmax");
        Run(model, sampling with { TopK = 1 }).Should().BeEquivalentTo(greedy, o => o.WithStrictOrdering(), "top-k 1 keeps only the argmax");
        Run(model, sampling with { TopP = 1e-6 }).Should().BeEquivalentTo(greedy, o => o.WithStrictOrdering(), "top-p keeps at least the most likely token");
    }

    [Fact]
    public void Top_k_and_top_p_remove_what_hfs_warpers_remove()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new[] { 0.5f, 0.3f, 0.15f, 0.05f }).log().unsqueeze(0);   // probabilities 0.5, 0.3, 0.15, 0.05
        bool[] Kept(GenerationOptions o) => BertLMHeadModel.WarpLogits(logits, o).isfinite()[0].data<bool>().ToArray();
        Kept(new GenerationOptions { TopK = 2 }).Should().Equal(true, true, false, false);
        // HF TopPLogitsWarper: ascending cumulative 0.05, 0.2, 0.5, 1.0; remove where <= 1 - top_p
        Kept(new GenerationOptions { TopK = 0, TopP = 0.75 }).Should().Equal(true, true, false, false);
        Kept(new GenerationOptions { TopK = 0, TopP = 0.9 }).Should().Equal(true, true, true, false);
        Kept(new GenerationOptions { TopK = 3, TopP = 0.5 }).Should().Equal(true, false, false, false);
        var hot = BertLMHeadModel.WarpLogits(logits, new GenerationOptions { TopK = 0, Temperature = 2 });
        TensorAssert.Close(hot, logits / 2, 0, "temperature divides the logits");
    }

    [Fact]
    public void Rows_stop_at_eos_and_are_padded_after_it()
    {
        using var model = LMHeadFixtureTests.Load(AttentionImplementation.Sdpa);
        var greedy = Run(model, new GenerationOptions { MaxNewTokens = 8 });
        var eos = greedy[0, 4 + 2];                                                      // row 0's third new token
        var stopped = Run(model, new GenerationOptions { MaxNewTokens = 8, EosTokenId = eos, PadTokenId = 1999 });
        int FirstEos(int row) => Enumerable.Range(4, 8).FirstOrDefault(t => greedy[row, t] == eos, -1);
        int e0 = FirstEos(0), e1 = FirstEos(1);
        e0.Should().BeInRange(4, 6);
        var length = e1 < 0 ? 12 : Math.Max(e0, e1) + 1;                                 // the batch stops when every row has
        stopped.GetLength(1).Should().Be(length);
        foreach (var (row, end) in new[] { (0, e0), (1, e1 < 0 ? length - 1 : e1) })
            for (int t = 0; t < length; t++)
                stopped[row, t].Should().Be(t <= end ? greedy[row, t] : 1999, $"row {row} position {t} (eos at {end})");
    }

    [Fact]
    public void Options_and_prompts_that_cannot_work_are_refused()
    {
        using var model = LMHeadFixtureTests.Load(AttentionImplementation.Sdpa);
        ((Action)(() => model.Generate(Prompt(), new GenerationOptions { MaxNewTokens = 61 }))).Should().Throw<ArgumentException>()
            .WithMessage("*prompt length 4 + max_new_tokens 61 exceeds max_position_embeddings (64)*");
        ((Action)(() => model.Generate(Prompt(), new GenerationOptions { TopP = 0 }))).Should().Throw<ArgumentException>().WithMessage("*top_p*");
        ((Action)(() => model.Generate(Prompt(), new GenerationOptions { Temperature = 0 }))).Should().Throw<ArgumentException>().WithMessage("*temperature*");
        ((Action)(() => model.Generate(Prompt(), new GenerationOptions { TopK = -1 }))).Should().Throw<ArgumentException>().WithMessage("*top_k*");
    }

    [Fact]
    public void Greedy_with_a_padded_prompt_and_encoder_states_equals_full_forwards()
    {
        var (eager, sdpa) = CrossAttentionTests.Models();
        using var _ = eager;
        using var __ = sdpa;
        using var scope = NewDisposeScope();
        manual_seed(11);
        var enc = randn(2, 5, 16);
        var encMask = tensor(new long[,] { { 1, 1, 1, 1, 1 }, { 1, 1, 0, 0, 0 } });
        var prompt = tensor(new long[,] { { 5, 6, 7, 8 }, { 9, 10, 0, 0 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 1 }, { 1, 1, 0, 0 } });
        long[,] expected;
        using (inference_mode())
        {
            var ids = prompt;
            var m = mask;
            for (int s = 0; s < 5; s++)
            {
                var logits = eager.forward(ids, m, encoderHiddenStates: enc, encoderAttentionMask: encMask, useCache: false).Logits;
                ids = cat([ids, logits[.., -1, ..].argmax(-1).unsqueeze(1)], 1);
                m = cat([m, ones(2, 1, dtype: int64)], 1);
            }
            expected = ToArray(ids);
        }
        foreach (var model in new[] { eager, sdpa })
        {
            using var generated = model.Generate(prompt, new GenerationOptions { MaxNewTokens = 5 }, mask, enc, encMask);
            ToArray(generated).Should().BeEquivalentTo(expected, o => o.WithStrictOrdering(), $"{model.Config.AttnImplementation}");
        }
    }
}
