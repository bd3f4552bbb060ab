using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Decoder;

/// <summary>Bad decoder inputs get one-line ArgumentExceptions naming the input and the shapes; caches leave no tensor behind.</summary>
public class DecoderErrorTests
{
    private static Action Call(Action a) => a;

    [Fact]
    public void Encoder_states_of_the_wrong_shape_or_for_a_model_without_cross_attention_are_refused()
    {
        var (eager, sdpa) = CrossAttentionTests.Models();
        using var _ = eager;
        using var __ = sdpa;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var ids = ones(2, 3, dtype: int64);
        Call(() => eager.forward(ids, encoderHiddenStates: randn(2, 5, 8))).Should().Throw<ArgumentException>()
            .WithMessage("encoder_hidden_states has shape [2, 5, 8]*hidden_size 16*");
        Call(() => eager.forward(ids, encoderHiddenStates: randn(3, 5, 16))).Should().Throw<ArgumentException>().WithMessage("*[3, 5, 16]*batch 2*");
        Call(() => eager.forward(ids, encoderHiddenStates: randn(2, 5, 16, dtype: float64))).Should().Throw<ArgumentException>().WithMessage("*dtype Float64*");
        Call(() => eager.forward(ids, encoderHiddenStates: randn(2, 5, 16), encoderAttentionMask: ones(2, 4, dtype: int64)))
            .Should().Throw<ArgumentException>().WithMessage("encoder_attention_mask has shape [2, 4]*[2, 5]*");
        Call(() => eager.forward(ids, encoderAttentionMask: ones(2, 5, dtype: int64))).Should().Throw<ArgumentException>().WithMessage("*without encoder_hidden_states*");

        using var lm = LMHeadFixtureTests.Load(AttentionImplementation.Sdpa);
        Call(() => lm.forward(ids, encoderHiddenStates: randn(2, 5, 32))).Should().Throw<ArgumentException>().WithMessage("*add_cross_attention*");
        using var encoder = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU });
        Call(() => encoder.forward(ids, encoderHiddenStates: randn(2, 5, 32))).Should().Throw<ArgumentException>().WithMessage("*is_decoder = false*");

        // a cache with cross-attention needs the encoder states at every step
        using var first = eager.forward(ids, encoderHiddenStates: randn(2, 5, 16));
        Call(() => eager.forward(ones(2, 1, dtype: int64), pastKeyValues: first.PastKeyValues)).Should().Throw<ArgumentException>()
            .WithMessage("*cross-attention keys/values but encoder_hidden_states is null*");
        Call(() => eager.forward(ones(2, 1, dtype: int64), encoderHiddenStates: randn(2, 4, 16), pastKeyValues: first.PastKeyValues))
            .Should().Throw<ArgumentException>().WithMessage("*5 source positions*[2, 4, 16]*");
    }

    [Fact]
    public void Caches_that_do_not_fit_are_refused()
    {
        using var model = LMHeadFixtureTests.Load(AttentionImplementation.Sdpa);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        using var prompt = model.forward(ones(2, 60, dtype: int64));
        var past = prompt.PastKeyValues!;
        Call(() => model.forward(ones(2, 5, dtype: int64), pastKeyValues: past)).Should().Throw<ArgumentException>()
            .WithMessage("past_key_values holds 60 tokens and input_ids adds 5: 65 positions exceed max_position_embeddings (64)*");
        Call(() => model.forward(ones(3, 1, dtype: int64), pastKeyValues: past)).Should().Throw<ArgumentException>()
            .WithMessage("past_key_values has batch size 2 (key [2, 4, 60, 8]) but input_ids has 3 rows*");
        Call(() => model.forward(ones(2, 1, dtype: int64), ones(2, 1, dtype: int64), pastKeyValues: past)).Should().Throw<ArgumentException>()
            .WithMessage("attention_mask has shape [2, 1]*length 60*[2, 61]*");
        using var oneLayer = BertCache.FromTensors([(past.Key(0), past.Value(0))]);
        Call(() => model.forward(ones(2, 1, dtype: int64), pastKeyValues: oneLayer)).Should().Throw<ArgumentException>()
            .WithMessage("past_key_values has 1 layers but the model has num_hidden_layers = 2*");
        var kv = randn(2, 2, 60, 16);
        using var wrongHeads = BertCache.FromTensors([(kv, kv), (kv, kv)]);
        Call(() => model.forward(ones(2, 1, dtype: int64), pastKeyValues: wrongHeads)).Should().Throw<ArgumentException>().WithMessage("*[2, 2, 60, 16]*4 heads*");
        Call(() => BertCache.FromTensors([(past.Key(0), past.Value(0)[.., .., ..5])])).Should().Throw<ArgumentException>().WithMessage("past_key_values layer 0: key [2, 4, 60, 8] and value [2, 4, 5, 8]*");
        var taken = prompt.TakePastKeyValues()!;
        taken.Dispose();
        Call(() => model.forward(ones(2, 1, dtype: int64), pastKeyValues: taken)).Should().Throw<ArgumentException>().WithMessage("past_key_values was disposed*");
        using var encoder = BertModel.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), new PretrainedOptions { Device = CPU });
        using var lmCache = model.forward(ones(2, 3, dtype: int64));
        Call(() => encoder.forward(ones(2, 1, dtype: int64), pastKeyValues: lmCache.PastKeyValues)).Should().Throw<ArgumentException>().WithMessage("*is_decoder = false*");
    }

    [Fact]
    public void Labels_of_the_wrong_shape_type_or_range_are_refused()
    {
        using var model = LMHeadFixtureTests.Load(AttentionImplementation.Sdpa);
        using var scope = NewDisposeScope();
        var ids = ones(2, 4, dtype: int64);
        Call(() => model.forward(ids, labels: ones(2, 3, dtype: int64))).Should().Throw<ArgumentException>().WithMessage("labels has shape [2, 3]; expected [2, 4]*");
        Call(() => model.forward(ids, labels: ones(2, 4))).Should().Throw<ArgumentException>().WithMessage("labels must be integer*Float32*");
        var bad = full(2, 4, -100L);
        bad[1, 2] = tensor(2000L);
        Call(() => model.forward(ids, labels: bad)).Should().Throw<ArgumentException>().WithMessage("labels contains 2000 at (1, 2); it must be in [0, 2000) (vocab_size) or -100 (ignored)*");
    }

    [Fact]
    public void Cross_attention_without_is_decoder_reads_as_a_config_but_builds_no_model()
    {
        var config = BertConfig.FromJson("""{"hidden_size": 16, "num_attention_heads": 4, "add_cross_attention": true}""");
        config.AddCrossAttention.Should().BeTrue();
        config.IsDecoder.Should().BeFalse();
        Call(() => new BertModel(config)).Should().Throw<BertConfigException>().WithMessage("*add_cross_attention*is_decoder*");
        var lm = Fixtures.Config("tiny-bert-mlm");
        lm.IsDecoder.Should().BeFalse();
        using var notDecoder = new BertLMHeadModel(lm);
        notDecoder.Warning.Should().Contain("is_decoder=True");
    }

    [Fact]
    public void Caches_outputs_and_generate_leave_no_tensor_behind()
    {
        using var model = LMHeadFixtureTests.Load(AttentionImplementation.Sdpa);
        var (cross, crossSdpa) = CrossAttentionTests.Models();
        using var _ = cross;
        using var __ = crossSdpa;
        using var ids = tensor(new long[,] { { 5, 6, 7 }, { 8, 9, 10 } });
        using var next = tensor(new long[,] { { 11 }, { 12 } });
        using var enc = randn(2, 5, 16);
        var stats = DisposeScopeManager.Statistics;
        Infer(); // once before counting: the inference fast path's packed weights live with the model, not with a call
        var before = stats.ThreadTotalLiveCount;

        Infer();
        stats.ThreadTotalLiveCount.Should().Be(before, "every cache, output and generation step frees its tensors");

        void Infer()
        {
            using (inference_mode())
            {
                using (var o = model.forward(ids, outputAttentions: true, outputHiddenStates: true))
                using (var past = o.TakePastKeyValues())
                using (var o2 = model.forward(next, pastKeyValues: past))
                    o2.PastKeyValues!.Length.Should().Be(4);
                using (var o = cross.forward(ids, encoderHiddenStates: enc, outputAttentions: true))
                using (var o2 = cross.forward(next, encoderHiddenStates: enc, pastKeyValues: o.PastKeyValues))
                    o2.PastKeyValues!.HasCrossAttention.Should().BeTrue();
                using (var generated = model.Generate(ids, new GenerationOptions { MaxNewTokens = 4, DoSample = true, Seed = 1, EosTokenId = 3 }))
                    generated.shape[0].Should().Be(2);
                using (var generated = cross.Generate(ids, new GenerationOptions { MaxNewTokens = 3 }, encoderHiddenStates: enc))
                    generated.shape[1].Should().Be(6);
            }
            using (var scope = NewDisposeScope())
            {
                var o = model.forward(ids);                                          // tensors in a scope, the cache outlives it
                var past = o.TakePastKeyValues()!;
                scope.Dispose();
                past.Key(1).shape.Should().Equal(2, 4, 3, 8);
                past.Dispose();
            }
        }
    }
}
