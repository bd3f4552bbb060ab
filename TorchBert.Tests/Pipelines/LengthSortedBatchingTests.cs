using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

/// <summary>
/// Lists longer than one batch are run longest-first (less padding: the benchmark's batching section measures the
/// gain); results must still come back in input order and equal each input run on its own.
/// </summary>
public class LengthSortedBatchingTests
{
    private static readonly string[] Inputs = Enumerable.Range(0, 23)
        .Select(i => string.Join(' ', Enumerable.Repeat(i % 2 == 0 ? "the cat sat" : "on a mat", 1 + i * 7 % 11)) + $" {i}.")
        .ToArray();

    [Fact]
    public void Sorted_batches_return_embeddings_in_input_order()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        using var sorted = SentenceEmbeddingPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU, BatchSize = 4 });
        using var single = SentenceEmbeddingPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU, BatchSize = 1 });
        using var unsorted = SentenceEmbeddingPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU, BatchSize = 4, SortByLength = false });

        var a = sorted.Run(Inputs);
        var b = unsorted.Run(Inputs);
        a.Should().HaveCount(Inputs.Length);
        for (var i = 0; i < Inputs.Length; i++)
        {
            var alone = single.Run(Inputs[i]);
            MaxDiff(a[i], alone).Should().BeLessThan(1e-5f, $"input {i} sorted vs alone");
            MaxDiff(b[i], alone).Should().BeLessThan(1e-5f, $"input {i} in order vs alone");
        }
        // Different inputs give different embeddings, so a permuted result list could not pass the loop above.
        MaxDiff(a[0], a[1]).Should().BeGreaterThan(1e-3f);
    }

    [Fact]
    public void Fill_mask_keeps_input_order_across_sorted_batches()
    {
        var dir = Fixtures.Dir("tiny-bert-mlm");
        var masked = Inputs.Select(t => t.Replace(" sat", " [MASK]").Replace(" mat", " [MASK]")).ToArray();
        using var batched = FillMaskPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU, BatchSize = 5 }, topK: 3);
        using var single = FillMaskPipeline.FromPretrained(dir, new PipelineOptions { Device = CPU, BatchSize = 1 }, topK: 3);
        var all = batched.Run(masked);
        for (var i = 0; i < masked.Length; i++)
        {
            var alone = single.Run(masked[i]);
            all[i].Should().HaveCount(alone.Count, $"input {i} has {alone.Count} masks");
            for (var m = 0; m < alone.Count; m++)
                all[i][m].Select(r => (r.Token, r.Sequence)).Should().Equal(alone[m].Select(r => (r.Token, r.Sequence)), $"input {i} mask {m}");
        }
    }

    private static float MaxDiff(float[] x, float[] y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max();
}
