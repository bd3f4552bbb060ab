using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Decoder;

/// <summary>
/// BertLMHeadModel against tiny-bert-lmhead's recorded HF outputs (is_decoder, use_cache): logits, the shifted next-token
/// loss, causal attentions, past_key_values, and the cache.* incremental decoding steps — eager and SDPA.
/// </summary>
public class LMHeadFixtureTests
{
    private const string Fixture = "tiny-bert-lmhead";
    private const double HiddenTol = 1e-5, LogitTol = 1e-4;

    public static TheoryData<AttentionImplementation> Kernels() => new() { AttentionImplementation.Eager, AttentionImplementation.Sdpa };

    internal static BertLMHeadModel Load(AttentionImplementation attn) =>
        BertLMHeadModel.FromPretrained(Fixtures.Dir(Fixture), new PretrainedOptions { Device = CPU, AttnImplementation = attn });

    [Theory, MemberData(nameof(Kernels))]
    public void Logits_and_loss_match_hf(AttentionImplementation attn)
    {
        using var model = Load(attn);
        var e = Fixtures.Expected(Fixture);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        model.Config.IsDecoder.Should().BeTrue();
        model.Warning.Should().BeNull();

        using var o = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], labels: e["labels"]);
        TensorAssert.Close(o.Logits, e["logits"], LogitTol, "logits");
        double loss = o.Loss!.item<float>();
        double expected = e["loss"].item<float>();
        o.Loss.shape.Should().BeEmpty();
        Math.Abs(loss - expected).Should().BeLessThanOrEqualTo(1e-5 * Math.Abs(expected), $"loss {loss} vs HF {expected}");
        o.PastKeyValues.Should().BeNull("HF turns use_cache off when labels are given");
    }

    [Theory, MemberData(nameof(Kernels))]
    public void Attentions_and_past_key_values_match_hf(AttentionImplementation attn)
    {
        using var model = Load(attn);
        var e = Fixtures.Expected(Fixture);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();

        using var withProbs = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], outputAttentions: true);
        using var fast = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]); // SDPA kernel when attn = sdpa
        foreach (var o in new[] { withProbs, fast })
        {
            TensorAssert.Close(o.Logits, e["logits"], LogitTol, "logits");
            o.PastKeyValues.Should().NotBeNull("config.use_cache is true");
            o.PastKeyValues!.LayerCount.Should().Be(2);
            o.PastKeyValues.HasCrossAttention.Should().BeFalse();
            for (int i = 0; i < 2; i++)
            {
                TensorAssert.Close(o.PastKeyValues.Key(i), e[$"past.{i}.key"], HiddenTol, $"past.{i}.key");
                TensorAssert.Close(o.PastKeyValues.Value(i), e[$"past.{i}.value"], HiddenTol, $"past.{i}.value");
            }
        }
        withProbs.Attentions!.Count.Should().Be(2);
        for (int i = 0; i < 2; i++) TensorAssert.Close(withProbs.Attentions[i], e[$"attentions.{i}"], HiddenTol, $"attentions.{i}");
        // causal: nothing above the diagonal
        withProbs.Attentions[0].triu(1).abs().max().item<float>().Should().Be(0);
        withProbs.Named().Select(n => n.Name).Should().Contain(["logits", "past_key_values.1.value", "attentions.1"]);
        fast.Attentions.Should().BeNull();
        model.forward(e["input_ids"], useCache: false).PastKeyValues.Should().BeNull();
    }

    [Theory, MemberData(nameof(Kernels))]
    public void Incremental_decoding_steps_match_hf_and_the_full_forward(AttentionImplementation attn)
    {
        using var model = Load(attn);
        var e = Fixtures.Expected(Fixture);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();

        BertCache? past = null;
        var stepLogits = new List<Tensor>();
        try
        {
            for (int s = 0; s < 3; s++)
            {
                var o = model.forward(e[$"cache.step{s}.input_ids"], e[$"cache.step{s}.attention_mask"], pastKeyValues: past);
                TensorAssert.Close(o.Logits, e[$"cache.step{s}.logits"], LogitTol, $"step {s} logits");
                for (int i = 0; i < 2; i++)
                {
                    TensorAssert.Close(o.PastKeyValues!.Key(i), e[$"cache.step{s}.past.{i}.key"], HiddenTol, $"step {s} past.{i}.key");
                    TensorAssert.Close(o.PastKeyValues.Value(i), e[$"cache.step{s}.past.{i}.value"], HiddenTol, $"step {s} past.{i}.value");
                }
                past?.Dispose();
                past = o.TakePastKeyValues();
                stepLogits.Add(o.Logits);
            }
        }
        finally
        {
            past?.Dispose();
        }
        using var full = model.forward(e["cache.input_ids"]);
        TensorAssert.Close(cat(stepLogits, 1), full.Logits, LogitTol, "steps concatenated vs one full forward");
    }

    [Theory, MemberData(nameof(Kernels))]
    public void A_step_from_hfs_own_cache_matches_hf(AttentionImplementation attn)
    {
        using var model = Load(attn);
        var e = Fixtures.Expected(Fixture);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var layers = Enumerable.Range(0, 2).Select(i => (e[$"cache.step1.past.{i}.key"], e[$"cache.step1.past.{i}.value"])).ToList();
        using var past = BertCache.FromTensors(layers);
        past.Length.Should().Be(7);
        using var o = model.forward(e["cache.step2.input_ids"], e["cache.step2.attention_mask"], pastKeyValues: past);
        TensorAssert.Close(o.Logits, e["cache.step2.logits"], LogitTol, "step 2 logits from HF's step-1 cache");
        // the cache read is still usable and unchanged; the new one is longer
        past.Key(0).shape[2].Should().Be(7);
        o.PastKeyValues!.Length.Should().Be(8);
    }

    [Theory, MemberData(nameof(Kernels))]
    public void Padded_prompts_decoded_token_by_token_give_the_full_forward(AttentionImplementation attn)
    {
        using var model = Load(attn);
        var e = Fixtures.Expected(Fixture);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = e["input_ids"];
        var mask = e["attention_mask"];                                          // rows 2 and 3 padded
        var types = e["token_type_ids"];
        using var full = model.forward(ids, mask, types, useCache: false);
        BertCache? past = null;
        var steps = new List<Tensor>();
        try
        {
            for (long t = 0; t < ids.shape[1];)
            {
                var n = t == 0 ? 5 : 1;                                          // a 5-token prompt, then one at a time
                var o = model.forward(ids[.., (int)t..(int)(t + n)], mask[.., ..(int)(t + n)], types[.., (int)t..(int)(t + n)], pastKeyValues: past);
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
        // every position, padded ones included (the masks are the same, as HF's)
        TensorAssert.Close(cat(steps, 1), full.Logits, LogitTol, "padded steps vs full forward");
        TensorAssert.Close(full.Logits, e["logits"], LogitTol, "full forward vs HF");
    }

    [Fact]
    public void Eager_and_sdpa_agree_on_every_decoder_output()
    {
        using var eager = Load(AttentionImplementation.Eager);
        using var sdpa = Load(AttentionImplementation.Sdpa);
        var e = Fixtures.Expected(Fixture);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        foreach (var mask in new[] { e["attention_mask"], ones_like(e["input_ids"]) })
        {
            using var a = eager.forward(e["input_ids"], mask, e["token_type_ids"], outputHiddenStates: true);
            using var b = sdpa.forward(e["input_ids"], mask, e["token_type_ids"], outputHiddenStates: true);
            TensorAssert.Close(b.Logits, a.Logits, LogitTol, "logits");
            for (int i = 0; i < 3; i++) TensorAssert.Close(b.HiddenStates![i], a.HiddenStates![i], HiddenTol, $"hidden_states.{i}");
            for (int i = 0; i < 2; i++) TensorAssert.Close(b.PastKeyValues!.Value(i), a.PastKeyValues!.Value(i), HiddenTol, $"past.{i}.value");
        }
    }
}
