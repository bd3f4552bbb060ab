using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Decoder;

/// <summary>
/// A decoder with cross-attention (add_cross_attention; no fixture has one): random weights, checked against an
/// independent plain-TorchSharp computation of HF's cross-attention block, and cached decoding against the full forward.
/// </summary>
public class CrossAttentionTests
{
    private const int Hidden = 16, Heads = 4, Source = 5;

    internal static BertConfig Config(AttentionImplementation attn) => new()
    {
        VocabSize = 64, HiddenSize = Hidden, NumHiddenLayers = 2, NumAttentionHeads = Heads, IntermediateSize = 24,
        MaxPositionEmbeddings = 32, IsDecoder = true, AddCrossAttention = true, InitializerRange = 0.35,
        HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, AttnImplementation = attn,
    };

    /// <summary>The same random weights (HF init at std 0.35, seeded) in an eager and an SDPA model.</summary>
    internal static (BertLMHeadModel Eager, BertLMHeadModel Sdpa) Models()
    {
        manual_seed(1234);
        var eager = new BertLMHeadModel(Config(AttentionImplementation.Eager));
        var sdpa = new BertLMHeadModel(Config(AttentionImplementation.Sdpa));
        using (no_grad())
        {
            var source = eager.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in sdpa.named_parameters()) p.copy_(source[name]);
        }
        eager.eval();
        sdpa.eval();
        return (eager, sdpa);
    }

    /// <summary>Encoder states (2, 5, 16) and a mask with two padded source positions in row 1.</summary>
    private static (Tensor States, Tensor Mask) Encoder()
    {
        manual_seed(99);
        var states = randn(2, Source, Hidden);
        var mask = tensor(new long[,] { { 1, 1, 1, 1, 1 }, { 1, 1, 1, 0, 0 } });
        return (states, mask);
    }

    [Fact]
    public void Layers_have_hfs_crossattention_keys_and_encoders_do_not()
    {
        var (eager, sdpa) = Models();
        using var _ = eager;
        using var __ = sdpa;
        var keys = eager.state_dict().Keys.ToList();
        foreach (var k in new[] { "self.query.weight", "self.key.bias", "self.value.weight", "output.dense.weight", "output.LayerNorm.weight", "output.LayerNorm.bias" })
        {
            keys.Should().Contain($"bert.encoder.layer.0.crossattention.{k}");
            keys.Should().Contain($"bert.encoder.layer.1.crossattention.{k}");
        }
        var relative = Config(AttentionImplementation.Eager);
        relative.PositionEmbeddingType = PositionEmbeddingType.RelativeKey;
        using var rel = new BertModel(relative, addPoolingLayer: false);
        var relKeys = rel.state_dict().Keys.ToList();
        relKeys.Should().Contain("encoder.layer.0.attention.self.distance_embedding.weight");
        relKeys.Should().NotContain(k => k.Contains("crossattention.self.distance_embedding"), "HF builds crossattention with absolute positions");
        eager.ToString().Should().Contain("(crossattention): BertAttention(");
        using var encoderOnly = new BertModel(Fixtures.Config("tiny-bert-mlm"));
        encoderOnly.state_dict().Keys.Should().NotContain(k => k.Contains("crossattention"));
    }

    [Fact]
    public void A_cross_attention_block_matches_modeling_bert_written_out()
    {
        var (eager, sdpa) = Models();
        using var _ = eager;
        using var __ = sdpa;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var (enc, encMask) = Encoder();
        manual_seed(5);
        var x = randn(2, 3, Hidden);                                                // what the self-attention passes on
        var sd = eager.state_dict();
        const string p = "bert.encoder.layer.1.crossattention.";

        // HF BertSelfAttention (is_cross_attention) + BertSelfOutput, in plain ops
        Tensor Lin(Tensor t, string name) => matmul(t, sd[p + name + ".weight"].t()) + sd[p + name + ".bias"];
        Tensor Split(Tensor t) => t.view(2, -1, Heads, Hidden / Heads).transpose(1, 2);               // (B, nh, L, hs)
        var q = Split(Lin(x, "self.query"));
        var k = Split(Lin(enc, "self.key"));
        var v = Split(Lin(enc, "self.value"));
        var inverted = (1.0 - encMask.to(float32).view(2, 1, 1, Source)) * float.MinValue;          // invert_attention_mask
        var probs = softmax(matmul(q, k.transpose(2, 3)) / Math.Sqrt(Hidden / Heads) + inverted, -1); // (B, nh, 3, S)
        var context = matmul(probs, v).transpose(1, 2).reshape(2, 3, Hidden);
        var h = Lin(context, "output.dense") + x;
        var mean = h.mean([-1L], keepdim: true);
        var variance = (h - mean).pow(2).mean([-1L], keepdim: true);
        var expected = (h - mean) / (variance + 1e-12).sqrt() * sd[p + "output.LayerNorm.weight"] + sd[p + "output.LayerNorm.bias"];

        var attentionContext = new AttentionContext { EncoderHiddenStates = enc, EncoderMask = AttentionMasks.Extended(encMask, ScalarType.Float32), OutputAttentions = true };
        foreach (var model in new[] { eager, sdpa })
        {
            var block = model.Bert.Encoder.Layers[1].CrossAttention!;
            block.Self.IsCrossAttention.Should().BeTrue();
            var (output, actualProbs) = block.forward(x, attentionContext);
            TensorAssert.Close(output, expected, 1e-5, $"{block.Self.GetName()} cross-attention output");
            TensorAssert.Close(actualProbs!, probs, 1e-6, "cross-attention probabilities");
            TensorAssert.Close(block.forward(x, attentionContext with { OutputAttentions = false }).Output, expected, 1e-5, "without probabilities (SDPA kernel)");
        }
        probs[1, .., .., 3..].abs().max().item<float>().Should().Be(0, "padded source positions get no attention");
    }

    [Fact]
    public void Cached_decoding_with_cross_attention_gives_the_full_forward()
    {
        var (eager, sdpa) = Models();
        using var _ = eager;
        using var __ = sdpa;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var (enc, encMask) = Encoder();
        manual_seed(3);
        var ids = randint(1, 64, [2, 7], dtype: int64);

        using var reference = eager.forward(ids, encoderHiddenStates: enc, encoderAttentionMask: encMask, outputAttentions: true, useCache: false);
        reference.CrossAttentions!.Count.Should().Be(2);
        reference.CrossAttentions[0].shape.Should().Equal(2, Heads, 7, Source);
        reference.CrossAttentions[0][1, .., .., 3..].abs().max().item<float>().Should().Be(0);
        foreach (var model in new[] { eager, sdpa })
        {
            using var full = model.forward(ids, encoderHiddenStates: enc, encoderAttentionMask: encMask);
            TensorAssert.Close(full.Logits, reference.Logits, 1e-4, "full forward, eager vs sdpa");
            full.PastKeyValues!.HasCrossAttention.Should().BeTrue();
            full.PastKeyValues.CrossKey(0)!.shape.Should().Equal(2, Heads, Source, Hidden / Heads);

            BertCache? past = null;
            var steps = new List<Tensor>();
            try
            {
                for (int t = 0; t < 7;)
                {
                    var n = t == 0 ? 3 : 1;
                    var o = model.forward(ids[.., t..(t + n)], encoderHiddenStates: enc, encoderAttentionMask: encMask, pastKeyValues: past);
                    if (past is not null)
                        TensorAssert.Close(o.PastKeyValues!.CrossKey(1)!, past.CrossKey(1)!, 0, "cross keys are computed once and reused");
                    past?.Dispose();
                    past = o.TakePastKeyValues();
                    steps.Add(o.Logits);
                    t += n;
                }
                past!.Length.Should().Be(7);
            }
            finally
            {
                past?.Dispose();
            }
            TensorAssert.Close(cat(steps, 1), reference.Logits, 1e-4, $"{model.Config.AttnImplementation}: cached steps vs full forward");
        }
    }

    [Theory]
    [InlineData(PositionEmbeddingType.RelativeKey)]
    [InlineData(PositionEmbeddingType.RelativeKeyQuery)]
    public void Relative_position_decoders_decode_one_token_at_a_time_as_the_full_forward(PositionEmbeddingType type)
    {
        var config = Config(AttentionImplementation.Sdpa);                        // SDPA falls back to eager here, as HF
        config.AddCrossAttention = false;
        config.PositionEmbeddingType = type;
        manual_seed(77);
        using var model = new BertLMHeadModel(config);
        model.eval();
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = randint(1, 64, [2, 6], dtype: int64);
        var full = model.forward(ids, useCache: false).Logits;
        BertCache? past = null;
        var steps = new List<Tensor>();
        try
        {
            for (int t = 0; t < 6;)
            {
                var n = t == 0 ? 3 : 1;                                          // HF's cached relative scores assume one new token
                var o = model.forward(ids[.., t..(t + n)], pastKeyValues: past);
                past?.Dispose();
                past = o.TakePastKeyValues();
                steps.Add(o.Logits);
                t += n;
            }
        }
        finally
        {
            past?.Dispose();
        }
        TensorAssert.Close(cat(steps, 1), full, 1e-4, $"{type}: cached steps vs full forward");
    }
}
