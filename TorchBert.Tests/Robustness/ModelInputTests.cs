using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Robustness;

/// <summary>Bad forward inputs get an ArgumentException naming the input, never a native libtorch trace.</summary>
public sealed class ModelInputTests : IClassFixture<ModelInputTests.Model>
{
    public sealed class Model : IDisposable
    {
        public BertForMaskedLM Mlm { get; } = BertForMaskedLM.FromPretrained(Fixtures.Dir("tiny-bert-gelu-new"), new PretrainedOptions { Device = CPU });
        public void Dispose() => Mlm.Dispose();
    }

    private readonly BertForMaskedLM model;
    public ModelInputTests(Model m) => model = m.Mlm;

    private Action Call(Tensor ids, Tensor? mask = null, Tensor? types = null, Tensor? positions = null) => () =>
    {
        using var mode = inference_mode();
        model.forward(ids, mask, types, positions).Dispose();
    };

    [Fact]
    public void Ids_outside_the_vocabulary_name_the_value_and_position()
    {
        Call(tensor(new long[] { 101, 2000, 5 }).unsqueeze(0)).Should().Throw<ArgumentException>()
            .WithMessage("input_ids contains 2000 at position (0, 1); it must be in [0, 2000) (vocab_size)");
        Call(tensor(new long[] { 101, -3 }).unsqueeze(0)).Should().Throw<ArgumentException>().WithMessage("input_ids contains -3 at position (0, 1)*");
    }

    [Fact]
    public void Token_types_beyond_type_vocab_size_are_refused()
    {
        var ids = tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        Call(ids, types: tensor(new long[] { 0, 1, 2 }).unsqueeze(0)).Should().Throw<ArgumentException>()
            .WithMessage("token_type_ids contains 2 at position (0, 2); it must be in [0, 2) (type_vocab_size)");
    }

    [Fact]
    public void Sequences_longer_than_max_positions_are_refused()
    {
        Call(ones(1, 65, dtype: int64)).Should().Throw<ArgumentException>().WithMessage("sequence length 65 exceeds max_position_embeddings (64)*");
        Call(ones(1, 4, dtype: int64), positions: tensor(new long[] { 0, 1, 2, 64 }).unsqueeze(0)).Should().Throw<ArgumentException>()
            .WithMessage("position_ids contains 64*");
    }

    [Fact]
    public void Shape_and_dtype_mismatches_are_named()
    {
        Call(ones(2, 5, dtype: int64), mask: ones(2, 4, dtype: int64)).Should().Throw<ArgumentException>()
            .WithMessage("attention_mask has shape [2, 4] but input_ids has shape [2, 5]");
        Call(ones(2, 5, dtype: int64), types: ones(5, dtype: int64)).Should().Throw<ArgumentException>().WithMessage("token_type_ids has shape [5]*");
        Call(ones(5, dtype: int64)).Should().Throw<ArgumentException>().WithMessage("input_ids must be 2-D*");
        Call(ones(1, 5, dtype: float32)).Should().Throw<ArgumentException>().WithMessage("input_ids must be int64*");
        Call(zeros(1, 0, dtype: int64)).Should().Throw<ArgumentException>().WithMessage("input_ids is empty*");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 64)]
    [InlineData(256, 7)]
    public void Batch_edges_give_correct_rows(int batch, int length)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var gen = new Generator(7);
        var ids = randint(1, 2000, [batch, length], dtype: int64, generator: gen);
        var logits = model.forward(ids).Logits;
        logits.shape.Should().Equal(batch, length, 2000);
        // every row equals that row run alone
        foreach (var row in new[] { 0, batch - 1 })
            TensorAssert.Close(logits[row], model.forward(ids[row..(row + 1)]).Logits[0], 1e-4, $"row {row} of a batch of {batch}");
    }

    [Fact]
    public void Padding_does_not_change_the_unpadded_rows()
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var shortIds = tensor(new long[] { 101, 7, 8, 102 }).unsqueeze(0);
        var padded = tensor(new long[] { 101, 7, 8, 102, 0, 0, 0 }).unsqueeze(0);
        var mask = tensor(new long[] { 1, 1, 1, 1, 0, 0, 0 }).unsqueeze(0);
        TensorAssert.Close(model.forward(padded, mask).Logits[.., ..4], model.forward(shortIds).Logits, 1e-4, "padded vs unpadded");
    }
}
