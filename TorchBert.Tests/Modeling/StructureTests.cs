using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling;

public class StructureTests
{
    [Fact]
    public void State_dict_keys_and_shapes_are_hfs()
    {
        using var model = new BertForMaskedLM(Fixtures.Config("tiny-bert-mlm"));
        var ours = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        var hf = ReferenceSafeTensors.Read(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "model.safetensors"))
            .ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        // HF's state dict also lists the tied decoder weight and decoder.bias (= cls.predictions.bias); safetensors omits the tie.
        hf["cls.predictions.decoder.weight"] = [30522, 32];
        hf["cls.predictions.decoder.bias"] = [30522];
        ours.Keys.Should().BeEquivalentTo(hf.Keys);
        foreach (var (k, shape) in hf) ours[k].Should().Equal(shape, k);
    }

    [Fact]
    public void Decoder_is_tied_to_word_embeddings_and_bias_shared_even_after_moving()
    {
        using var model = new BertForMaskedLM(Fixtures.Config("tiny-bert-mlm"));
        model.to(ScalarType.Float64);
        using (var ids = tensor(new long[] { 101, 102 }).unsqueeze(0)) model.forward(ids).Dispose();
        using (no_grad())
        {
            // shared storage: writing through the owner shows through the tied aliases
            model.Bert.Embeddings.WordEmbeddingWeight[5].fill_(3.0);
            model.Cls.Predictions.Bias[7].fill_(2.0);
        }
        model.Cls.Predictions.Decoder.weight[5].eq(3.0).all().item<bool>().Should().BeTrue();
        model.state_dict()["cls.predictions.decoder.weight"][5].eq(3.0).all().item<bool>().Should().BeTrue();
        model.state_dict()["cls.predictions.decoder.bias"][7].item<double>().Should().Be(2.0);
        model.Cls.Predictions.Decoder.bias![7].item<double>().Should().Be(2.0);
        model.Bert.Embeddings.WordEmbeddingWeight.dtype.Should().Be(ScalarType.Float64);
        model.Cls.Predictions.Bias.dtype.Should().Be(ScalarType.Float64);
        // tied tensors counted once, as PyTorch's parameters() does
        var sd = model.state_dict();
        model.ParameterCount().Should().Be(sd.Where(kv => !kv.Key.StartsWith("cls.predictions.decoder")).Sum(kv => kv.Value.numel()));
    }

    [Fact]
    public void Hf_init_weights_padding_row_zero_layernorm_ones()
    {
        using var model = new BertModel(Fixtures.Config("tiny-bert-gelu-new"));
        using var scope = NewDisposeScope();
        model.Embeddings.WordEmbeddingWeight[0].abs().sum().item<float>().Should().Be(0f);
        var std = model.Embeddings.WordEmbeddingWeight[1..].std().item<float>();
        std.Should().BeApproximately(0.02f, 0.002f);
        var ln = model.state_dict()["embeddings.LayerNorm.weight"];
        ln.eq(1).all().item<bool>().Should().BeTrue();
    }

    [Fact]
    public void Prints_the_pytorch_module_tree()
    {
        var config = new BertConfig { AttnImplementation = AttentionImplementation.Eager };
        using var model = new BertForMaskedLM(config);
        var text = model.ToString();
        text.Should().StartWith("""
            BertForMaskedLM(
              (bert): BertModel(
                (embeddings): BertEmbeddings(
                  (word_embeddings): Embedding(30522, 768, padding_idx=0)
                  (position_embeddings): Embedding(512, 768)
                  (token_type_embeddings): Embedding(2, 768)
                  (LayerNorm): LayerNorm((768,), eps=1e-12, elementwise_affine=True)
                  (dropout): Dropout(p=0.1, inplace=False)
                )
                (encoder): BertEncoder(
                  (layer): ModuleList(
                    (0-11): 12 x BertLayer(
                      (attention): BertAttention(
                        (self): BertSelfAttention(
                          (query): Linear(in_features=768, out_features=768, bias=True)
                          (key): Linear(in_features=768, out_features=768, bias=True)
                          (value): Linear(in_features=768, out_features=768, bias=True)
                          (dropout): Dropout(p=0.1, inplace=False)
                        )
                        (output): BertSelfOutput(
                          (dense): Linear(in_features=768, out_features=768, bias=True)
                          (LayerNorm): LayerNorm((768,), eps=1e-12, elementwise_affine=True)
                          (dropout): Dropout(p=0.1, inplace=False)
                        )
                      )
                      (intermediate): BertIntermediate(
                        (dense): Linear(in_features=768, out_features=3072, bias=True)
                        (intermediate_act_fn): GELUActivation()
                      )
                      (output): BertOutput(
                        (dense): Linear(in_features=3072, out_features=768, bias=True)
                        (LayerNorm): LayerNorm((768,), eps=1e-12, elementwise_affine=True)
                        (dropout): Dropout(p=0.1, inplace=False)
                      )
                    )
                  )
                )
              )
              (cls): BertOnlyMLMHead(
                (predictions): BertLMPredictionHead(
                  (transform): BertPredictionHeadTransform(
                    (dense): Linear(in_features=768, out_features=768, bias=True)
                    (transform_act_fn): GELUActivation()
                    (LayerNorm): LayerNorm((768,), eps=1e-12, elementwise_affine=True)
                  )
                  (decoder): Linear(in_features=768, out_features=30522, bias=True)
                )
              )
            )
            """);
    }

    [Fact]
    public void Prints_sdpa_attention_a_single_layer_and_relative_distance_embedding()
    {
        var config = Fixtures.Config("tiny-bert-relative-key");
        config.NumHiddenLayers = 1;
        using var model = new BertModel(config);
        var text = model.ToString();
        text.Should().Contain("(0): BertLayer(").And.Contain("(self): BertSdpaSelfAttention(")
            .And.Contain("(distance_embedding): Embedding(127, 8)").And.Contain("(pooler): BertPooler(\n    (dense): Linear(in_features=32, out_features=32, bias=True)\n    (activation): Tanh()\n  )");
        new BertConfig { HiddenAct = HiddenAct.GeluNew, LayerNormEps = 1e-5, HiddenDropoutProb = 0 }.Let(c =>
        {
            using var m = new BertModel(c);
            m.ToString().Should().Contain("(intermediate_act_fn): NewGELUActivation()").And.Contain("eps=1e-05").And.Contain("Dropout(p=0.0, inplace=False)");
        });
    }
}

internal static class LetExtension
{
    public static void Let<T>(this T value, Action<T> action) => action(value);
}
