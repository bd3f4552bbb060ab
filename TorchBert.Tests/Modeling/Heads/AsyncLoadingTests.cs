using TorchBert.Modeling;
using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Modeling.Heads;

/// <summary>The async <c>FromPretrainedAsync</c> of the heads and of <see cref="BertAutoModel"/> load what the sync form loads.</summary>
public class AsyncLoadingTests
{
    [Fact]
    public async Task Head_and_auto_model_async_loads_give_hfs_logits()
    {
        var e = Fixtures.Expected("tiny-bert-qa");
        using var qa = await BertForQuestionAnswering.FromPretrainedAsync(Fixtures.Dir("tiny-bert-qa"), new PretrainedOptions { Device = CPU });
        using var auto = await BertAutoModel.FromPretrainedAsync(Fixtures.Dir("tiny-bert-seqcls"), new PretrainedOptions { Device = CPU });
        auto.Should().BeOfType<BertForSequenceClassification>("config.json's architectures names it");
        var s = Fixtures.Expected("tiny-bert-seqcls");
        using var mode = inference_mode();
        using var o = qa.forward(e["input_ids"], e["attention_mask"], e["token_type_ids"]);
        TensorAssert.Close(o.StartLogits, e["start_logits"], 1e-4, "start_logits");
        TensorAssert.Close(o.EndLogits, e["end_logits"], 1e-4, "end_logits");
        using var c = ((BertForSequenceClassification)auto).forward(s["input_ids"], s["attention_mask"], s["token_type_ids"]);
        TensorAssert.Close(c.Logits, s["logits"], 1e-4, "logits");
    }

    [Fact]
    public async Task A_cancelled_async_load_of_a_hub_id_throws_before_loading()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var act = () => BertForTokenClassification.FromPretrainedAsync("some-org/some-ner-model", new PretrainedOptions { Device = CPU }, cts.Token);
        await act.Should().ThrowAsync<OperationCanceledException>();
    }
}
