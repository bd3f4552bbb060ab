using TorchBert.Analysis;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchBert.Tests.Plotting.PlotOracle;

namespace TorchBert.Tests.Plotting;

public sealed class PlotModelFixture : IDisposable
{
    public BertModel Model { get; } = BertModel.FromPretrained(Dir, new PretrainedOptions { AttnImplementation = Configuration.AttentionImplementation.Eager, Device = TorchSharp.torch.CPU });
    public BertTokenizer Tokenizer { get; } = BertTokenizer.FromFolder(Dir);
    public void Dispose() => Model.Dispose();
}

/// <summary>Token similarity matrices against cosine / softmax computed here from the checkpoint's and fixture's rows.</summary>
public sealed class TokenSimilarityTests(PlotModelFixture f) : IClassFixture<PlotModelFixture>
{
    private const string WordEmbeddings = "bert.embeddings.word_embeddings.weight";

    /// <summary>Row 0 of the fixture inputs: 11 tokens, token type 1 from position 6.</summary>
    private static TokenInput Row0() => TokenInput.FromIds(ExpectedIds("input_ids", 0), ExpectedIds("token_type_ids", 0));

    [Fact]
    public void Word_embedding_cosine_equals_the_cosine_of_the_checkpoints_rows()
    {
        var input = Row0();
        var m = TokenSimilarity.Compute(f.Model, input, VectorSource.WordEmbeddings, SimilarityMetric.Cosine);
        Close(AsList(m.Values), AsList(Cosine(WeightRows(WordEmbeddings, input.InputIds))), 1e-6, "cosine of word embeddings");
        m.Rows.Should().Equal(input.Tokens);
        m.Kind.Should().Be(ValueKind.Similarity);
        m.Title.Should().Be("cosine similarity, E = word embeddings");
    }

    [Theory]
    [InlineData("softmax", 1.0)]
    [InlineData("softmax:10", 10.0)]
    [InlineData("softmax:0.5", 0.5)]
    public void Softmax_metrics_equal_softmax_of_the_scaled_dot_products(string metric, double k)
    {
        var input = Row0();
        var m = TokenSimilarity.Compute(f.Model, input, VectorSource.WordEmbeddings, SimilarityMetric.Parse(metric));
        Close(AsList(m.Values), AsList(Softmax(WeightRows(WordEmbeddings, input.InputIds), k)), 1e-6, metric);
        m.Values.Should().OnlyContain(row => Math.Abs(row.Sum() - 1) < 1e-9, "softmax rows sum to 1");
        m.Kind.Should().Be(ValueKind.Probability);
    }

    [Fact]
    public void Dot_metric_is_signed_raw_dot_products()
    {
        var input = Row0();
        var m = TokenSimilarity.Compute(f.Model, input, VectorSource.WordEmbeddings, SimilarityMetric.Dot);
        Close(AsList(m.Values), AsList(Dot(WeightRows(WordEmbeddings, input.InputIds))), 1e-4, "dot");
        m.Kind.Should().Be(ValueKind.Signed);
    }

    [Theory]
    [InlineData(0, "embeddings")]
    [InlineData(1, "layer.0.output")]
    [InlineData(2, "layer.1.output")]
    public void Hidden_state_cosine_equals_the_cosine_of_the_recorded_hidden_states(int n, string key)
    {
        // Row 2 of the fixture is "[CLS] join jacob [SEP]" + padding; its real positions match an unpadded run.
        var input = TokenInput.FromText(f.Tokenizer, f.Model.Config, "join jacob");
        input.InputIds.Should().Equal(ExpectedIds("input_ids", 2).Take(4));
        var m = TokenSimilarity.Compute(f.Model, input, VectorSource.Hidden(n), SimilarityMetric.Cosine);
        Close(AsList(m.Values), AsList(Cosine(ExpectedRows(key, 2, 4))), 1e-5, $"cosine of hidden_states[{n}]");
        m.Rows.Should().Equal("[CLS]", "join", "jacob", "[SEP]");
        m.Title.Should().Be($"cosine similarity, E = hidden_states[{n}]");
    }

    [Fact]
    public void A_pair_is_shown_with_its_sep_tokens()
    {
        var input = TokenInput.FromText(f.Tokenizer, f.Model.Config, "join jacob", "hello world");
        input.Tokens.Should().Equal("[CLS]", "join", "jacob", "[SEP]", "hello", "world", "[SEP]");
        input.TokenTypeIds.Should().Equal(0, 0, 0, 0, 1, 1, 1);
    }

    [Fact]
    public void Position_cosine_equals_the_cosine_of_the_position_embedding_rows()
    {
        var m = TokenSimilarity.Positions(f.Model, first: 12);
        Close(AsList(m.Values), AsList(Cosine(WeightRows("bert.embeddings.position_embeddings.weight", Enumerable.Range(0, 12).Select(i => (long)i)))), 1e-6, "positions");
        m.Rows.Should().Equal(Enumerable.Range(0, 12).Select(i => i.ToString()));
        TokenSimilarity.Positions(f.Model).Values.Should().HaveCount(64, "all max_position_embeddings rows by default");
    }

    [Fact]
    public void Plain_vectors_give_the_same_matrices()
    {
        float[][] v = [[1, 0], [1, 1], [0, -2]];
        TokenSimilarity.Matrix(v, SimilarityMetric.Cosine)[1][2].Should().BeApproximately(-1 / Math.Sqrt(2), 1e-12);
        TokenSimilarity.Matrix(v, SimilarityMetric.Dot)[2][2].Should().Be(4);
        var soft = TokenSimilarity.Matrix(v, SimilarityMetric.Softmax(2));
        soft[0][1].Should().BeApproximately(Math.Exp(4) / (Math.Exp(4) + Math.Exp(4) + Math.Exp(0)), 1e-12);
    }

    [Theory]
    [InlineData("cosine", "cosine")]
    [InlineData("SOFTMAX", "softmax")]
    [InlineData("softmax:10", "softmax:10")]
    [InlineData("dot", "dot")]
    public void Metric_names_round_trip(string text, string name) => SimilarityMetric.Parse(text).ToString().Should().Be(name);

    [Theory]
    [InlineData("euclid", "unknown metric 'euclid'")]
    [InlineData("softmax:", "K in softmax:K must be a positive number")]
    [InlineData("softmax:-3", "K in softmax:K must be a positive number")]
    [InlineData("softmax:abc", "K in softmax:K must be a positive number")]
    public void Bad_metrics_are_named(string text, string message) =>
        FluentActions.Invoking(() => SimilarityMetric.Parse(text)).Should().Throw<ArgumentException>().WithMessage($"*{message}*");

    [Theory]
    [InlineData("hidden", "unknown source 'hidden'")]
    [InlineData("hidden:x", "N in hidden:N must be a layer number")]
    [InlineData("hidden:-1", "N in hidden:N must be a layer number")]
    [InlineData("pooler", "unknown source 'pooler'")]
    public void Bad_sources_are_named(string text, string message) =>
        FluentActions.Invoking(() => VectorSource.Parse(text)).Should().Throw<ArgumentException>().WithMessage($"*{message}*");

    [Fact]
    public void Bad_inputs_get_one_line_errors()
    {
        var config = f.Model.Config;
        FluentActions.Invoking(() => TokenInput.FromText(f.Tokenizer, config, "  ")).Should().Throw<ArgumentException>().WithMessage("the text is empty*");
        FluentActions.Invoking(() => TokenInput.FromText(f.Tokenizer, config, "join", "")).Should().Throw<ArgumentException>().WithMessage("*second text*empty*");
        var longText = string.Join(' ', Enumerable.Repeat("join", 63));
        FluentActions.Invoking(() => TokenInput.FromText(f.Tokenizer, config, longText)).Should().Throw<ArgumentException>()
            .WithMessage("the text is 65 tokens long; the model takes at most 64 (max_position_embeddings)*");
        FluentActions.Invoking(() => TokenSimilarity.Compute(f.Model, Row0(), VectorSource.Hidden(3), SimilarityMetric.Cosine))
            .Should().Throw<ArgumentException>().WithMessage("hidden:3 is out of range: the model has hidden_states[0..2]*");
        FluentActions.Invoking(() => TokenSimilarity.Positions(f.Model, 65)).Should().Throw<ArgumentException>().WithMessage("first 65 is out of range*64 positions*");
        FluentActions.Invoking(() => TokenSimilarity.Positions(f.Model, 0)).Should().Throw<ArgumentException>().WithMessage("first 0 is out of range*");
    }
}
