using Microsoft.ML.OnnxRuntime;
using TorchBert.Configuration;
using TorchBert.Pipelines;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.OrtParity;

/// <summary>
/// The sentence-embedding and feature-extraction pipelines on the real all-MiniLM-L6-v2 against ONNX Runtime's
/// last_hidden_state, pooled the sentence-transformers way (mean over attended tokens, L2-normalised).
/// </summary>
public class SentenceEmbeddingParityTests(OrtParityFixture f) : IClassFixture<OrtParityFixture>
{
    private static readonly string[] Sentences =
    [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "Ünïcödé, CJK 北京 and emoji 🙂 go through HF's normalisation first!",
    ];

    private float[][] OrtMeanPooled(BatchEncoding enc)
    {
        long[] shape = enc.Shape;
        using var ids = OrtValue.CreateTensorValueFromMemory(enc.FlatInputIds(), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(enc.FlatAttentionMask(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(enc.FlatTokenTypeIds(), shape);
        using var run = new RunOptions();
        using var outputs = f.Session.Run(run, ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], ["last_hidden_state"]);
        var hidden = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        int t = (int)shape[1], h = 384;
        return Enumerable.Range(0, enc.BatchSize).Select(b =>
        {
            var v = new double[h];
            var n = 0;
            for (int j = 0; j < t; j++)
            {
                if (enc.AttentionMask[b][j] == 0) continue;
                n++;
                for (int k = 0; k < h; k++) v[k] += hidden[(b * t + j) * h + k];
            }
            var norm = Math.Sqrt(v.Sum(x => (x / n) * (x / n)));
            return v.Select(x => (float)(x / n / norm)).ToArray();
        }).ToArray();
    }

    [Fact]
    public void Mean_pooled_normalised_embeddings_match_onnx_runtime()
    {
        using var pipe = SentenceEmbeddingPipeline.FromPretrained(f.ModelPath, new PipelineOptions { Device = CPU, BatchSize = 3 });
        var ours = pipe.Run(Sentences);
        var enc = pipe.Tokenizer.EncodeBatch(Sentences, null, new EncodeOptions { Padding = PaddingStrategy.Longest });
        var reference = OrtMeanPooled(enc);
        for (int i = 0; i < Sentences.Length; i++)
        {
            ours[i].Should().HaveCount(384);
            var diff = ours[i].Zip(reference[i]).Max(p => Math.Abs(p.First - p.Second));
            diff.Should().BeLessThan(1e-5f, $"sentence {i}");
        }
        var sim = Similarity.Matrix(ours);
        sim[0][1].Should().BeApproximately(0.7553, 0.001, "sentence-transformers' all-MiniLM-L6-v2 value");
        sim[0][2].Should().BeLessThan(0.1);
    }

    /// <summary>
    /// The README's (and the package consumer test's) similarity matrix is all-MiniLM-L6-v2's: ONNX Runtime on the
    /// unmodified export, pooled as sentence-transformers pools (no TorchBert model involved), rounds to it.
    /// </summary>
    [Fact]
    public void Readme_similarity_numbers_are_the_real_models()
    {
        var tokenizer = TokenizerLoader.ForModel(f.Directory);
        var v = OrtMeanPooled(tokenizer.EncodeBatch(Sentences[..3], null, new EncodeOptions { Padding = PaddingStrategy.Longest }));
        static double Dot(float[] a, float[] b) => a.Zip(b).Sum(p => (double)p.First * p.Second);   // unit vectors: cosine
        string.Join(' ', new[] { Dot(v[0], v[1]), Dot(v[0], v[2]), Dot(v[1], v[2]) }.Select(x => x.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))
            .Should().Be("0.7553 -0.1050 -0.0610");
    }

    [Fact]
    public void Feature_extraction_returns_each_token_without_padding()
    {
        using var pipe = FeatureExtractionPipeline.FromPretrained(f.ModelPath, new PipelineOptions { Device = CPU });
        var result = pipe.Run(["short", "a somewhat longer sentence here"]);
        result[0].Should().HaveCount(3, "[CLS] short [SEP]");
        result[1].Should().HaveCount(7);
        var single = pipe.Run("short");
        for (int j = 0; j < single.Length; j++)
            for (int k = 0; k < single[j].Length; k++)
                Math.Abs(single[j][k] - result[0][j][k]).Should().BeLessThan(1e-5f, $"token {j}, dim {k}");
    }

    [Fact]
    public void Cls_pooling_and_unnormalised_mean_differ_as_expected()
    {
        using var model = TorchBert.Modeling.BertModel.FromPretrained(f.ModelPath, new TorchBert.Modeling.PretrainedOptions { Device = CPU });
        var tokenizer = TokenizerLoader.ForModel(f.ModelPath);
        using var cls = new SentenceEmbeddingPipeline(model, tokenizer, new PipelineOptions(), Pooling.Cls, normalize: false);
        var tokens = FeatureExtractionPipeline.FromPretrained(f.ModelPath).Let(p => { using (p) return p.Run(Sentences[0]); });
        cls.Run(Sentences[0]).Should().Equal(tokens[0], (a, b) => Math.Abs(a - b) < 1e-5f, "CLS pooling is the first token's vector");
    }
}

internal static class FuncExtension
{
    public static TResult Let<T, TResult>(this T value, Func<T, TResult> f) => f(value);
}
