using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

/// <summary>
/// Module-by-module parity with HF modeling_bert on the fixtures' recorded outputs: each module is fed the recorded
/// input of its HF counterpart, so a mismatch names the module. fp32, CPU: 1e-5 on hidden states, 1e-4 on logits.
/// </summary>
public class ModuleParityTests
{
    private const double HiddenTol = 1e-5, LogitTol = 1e-4;

    public static TheoryData<string, AttentionImplementation> Cases()
    {
        var data = new TheoryData<string, AttentionImplementation>();
        foreach (var f in new[] { "tiny-bert-mlm", "tiny-bert-gelu-new", "tiny-bert-relative-key" })
        foreach (var a in new[] { AttentionImplementation.Eager, AttentionImplementation.Sdpa })
            data.Add(f, a);
        return data;
    }

    internal static BertForMaskedLM LoadFixture(string fixture, AttentionImplementation attn)
    {
        var config = Fixtures.Config(fixture);
        config.AttnImplementation = attn;
        var model = new BertForMaskedLM(config);
        using var ckpt = ReferenceSafeTensors.AsCheckpoint(Path.Combine(Fixtures.Dir(fixture), "model.safetensors"));
        Pretrained.LoadWeights(model, ckpt);
        model.eval();
        return model;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Each_module_matches_hf(string fixture, AttentionImplementation attn)
    {
        using var model = LoadFixture(fixture, attn);
        var e = Fixtures.Expected(fixture);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var bert = model.Bert;

        TensorAssert.Close(bert.Embeddings.forward(e["input_ids"], e["token_type_ids"]), e["embeddings"], HiddenTol, "embeddings");
        var mask = AttentionMasks.Extended(e["attention_mask"], ScalarType.Float32);
        for (int i = 0; i < bert.Config.NumHiddenLayers; i++)
        {
            var layer = bert.Encoder.Layers[i];
            var input = e[i == 0 ? "embeddings" : $"layer.{i - 1}.output"];
            var (context, probs) = layer.Attention.Self.forward(input, AttentionContext.Encoder(mask, outputAttentions: true));
            TensorAssert.Close(context, e[$"layer.{i}.attention.self.context"], HiddenTol, $"layer {i} self-attention context");
            TensorAssert.Close(probs!, e[$"layer.{i}.attention.probs"], HiddenTol, $"layer {i} attention probs");
            var (fastContext, noProbs) = layer.Attention.Self.forward(input, AttentionContext.Encoder(mask));
            noProbs.Should().BeNull();
            TensorAssert.Close(fastContext, e[$"layer.{i}.attention.self.context"], HiddenTol, $"layer {i} context ({attn} path)");
            TensorAssert.Close(layer.Attention.forward(input, AttentionContext.Encoder(mask)).Output, e[$"layer.{i}.attention.output"], HiddenTol, $"layer {i} attention output");
            TensorAssert.Close(layer.Intermediate.forward(e[$"layer.{i}.attention.output"]), e[$"layer.{i}.intermediate"], HiddenTol, $"layer {i} intermediate");
            TensorAssert.Close(layer.Output.forward(e[$"layer.{i}.intermediate"], e[$"layer.{i}.attention.output"]), e[$"layer.{i}.output"], HiddenTol, $"layer {i} output");
        }
        TensorAssert.Close(model.Cls.Predictions.Transform.forward(e["last_hidden_state"]), e["cls.predictions.transform"], HiddenTol, "MLM transform");
        TensorAssert.Close(model.Cls.forward(e["last_hidden_state"]), e["logits"], LogitTol, "MLM logits from recorded hidden state");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Whole_model_forward_matches_hf_with_hidden_states_and_attentions(string fixture, AttentionImplementation attn)
    {
        using var model = LoadFixture(fixture, attn);
        var e = Fixtures.Expected(fixture);
        using var noGrad = no_grad();
        using var output = model.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"], outputHiddenStates: true, outputAttentions: true);
        var layers = model.Config.NumHiddenLayers;
        TensorAssert.Close(output.Logits, e["logits"], LogitTol, "logits");
        TensorAssert.Close(output.LastHiddenState, e["last_hidden_state"], HiddenTol, "last_hidden_state");
        output.HiddenStates!.Count.Should().Be(layers + 1);
        TensorAssert.Close(output.HiddenStates[0], e["embeddings"], HiddenTol, "hidden_states[0]");
        for (int i = 0; i < layers; i++)
        {
            TensorAssert.Close(output.HiddenStates[i + 1], e[$"layer.{i}.output"], HiddenTol, $"hidden_states[{i + 1}]");
            TensorAssert.Close(output.Attentions![i], e[$"layer.{i}.attention.probs"], HiddenTol, $"attentions[{i}]");
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void Unmasked_call_without_token_types_matches_hf(string fixture, AttentionImplementation attn)
    {
        using var model = LoadFixture(fixture, attn);
        var e = Fixtures.Expected(fixture);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = e["input_ids"][..1, ..5];
        using var output = model.Bert.forward(ids, outputHiddenStates: true, outputAttentions: attn == AttentionImplementation.Eager);
        TensorAssert.Close(output.LastHiddenState, e["nomask.last_hidden_state"], HiddenTol, "nomask last_hidden_state");
        TensorAssert.Close(output.HiddenStates![0], e["nomask.embeddings"], HiddenTol, "nomask embeddings");
        for (int i = 0; i < model.Config.NumHiddenLayers; i++)
        {
            TensorAssert.Close(output.HiddenStates[i + 1], e[$"nomask.layer.{i}.output"], HiddenTol, $"nomask layer {i}");
            if (output.Attentions is { } a) TensorAssert.Close(a[i], e[$"nomask.layer.{i}.attention.probs"], HiddenTol, $"nomask attentions[{i}]");
        }
    }

    [Fact]
    public void Dropout_acts_only_in_train_mode()
    {
        using var model = LoadFixture("tiny-bert-mlm", AttentionImplementation.Sdpa);
        var e = Fixtures.Expected("tiny-bert-mlm");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var a = model.forward(e["input_ids"], e["attention_mask"]).LastHiddenState;
        var b = model.forward(e["input_ids"], e["attention_mask"]).LastHiddenState;
        a.allclose(b, 0, 0).Should().BeTrue("eval mode is deterministic");
        model.train();
        var c = model.forward(e["input_ids"], e["attention_mask"]).LastHiddenState;
        (c - a).abs().max().item<float>().Should().BeGreaterThan(1e-3f, "dropout changes train-mode outputs");
        model.eval();
    }
}
