using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>
/// Pipeline overhead: the sentence-embedding pipeline (tokenize, batch by length, forward, pool, copy out) over 1 000
/// short inputs vs the same model on the same inputs pre-tokenized into the same batches of 32 (forward only, as the
/// pipeline: padding-free). The target: the pipeline costs at most 1.10× per input.
/// </summary>
public sealed class PipelineBench(BenchOptions options, Report report, string modelDir, BertTokenizer tokenizer)
{
    public void Run()
    {
        var count = options.Quick ? 256 : 1000;
        report.Section("pipeline", $"sentence-embedding pipeline over {count} short inputs vs the model on pre-tokenized batches of 32");
        var lines = Corpus.Lines(count, 2, seed: 5);
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(modelDir, new PipelineOptions { Device = CPU, BatchSize = 32 });
        using var engine = new TorchBertEngine(pipe.Model, "model", skipPadding: true, ownsModel: false);
        // the batches the pipeline forms: truncated to max_seq_length, longest first, 32 per forward
        var encoded = lines.Select(l => tokenizer.Encode(l, options: new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = pipe.MaxSeqLength }))
            .OrderByDescending(e => e.Length).ToList();
        var batches = encoded.Chunk(32).Select(chunk =>
        {
            var t = chunk.Max(e => e.Length);
            var (ids, mask, types) = (new long[chunk.Length * t], new long[chunk.Length * t], new long[chunk.Length * t]);
            for (var r = 0; r < chunk.Length; r++)
            {
                Array.Copy(chunk[r].InputIds, 0, ids, r * t, chunk[r].Length);
                Array.Copy(chunk[r].AttentionMask, 0, mask, r * t, chunk[r].Length);
                Array.Copy(chunk[r].TokenTypeIds, 0, types, r * t, chunk[r].Length);
            }
            return new Batch(chunk.Length, t, ids, mask, types);
        }).ToList();

        pipe.Run(lines.Take(64).ToList());
        engine.Run(batches[0]);
        var (pipeMs, modelMs) = (new List<double>(), new List<double>());
        for (var r = 0; r < (options.Quick ? 2 : 5); r++)
        {
            modelMs.Add(Timer.Time(() => { foreach (var b in batches) engine.Run(b); }));
            pipeMs.Add(Timer.Time(() => pipe.Run(lines)));
        }
        double p = Stats.Median(pipeMs) / count, m = Stats.Median(modelMs) / count;
        report.Line($"  model on pre-tokenized batches {m,8:F3} ms/input");
        report.Line($"  pipeline (strings in)          {p,8:F3} ms/input");
        report.Line($"  ratio {p / m:F3}× (target ≤ 1.10×)");
        report.Value("inputs", count);
        report.Value("model_ms_per_input", Math.Round(m, 4));
        report.Value("pipeline_ms_per_input", Math.Round(p, 4));
        report.Value("ratio", Math.Round(p / m, 3));
    }
}
