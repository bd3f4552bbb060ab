using TorchBert.Tests.Support;
using TorchBert.Tokenization;
using TorchBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Training;

public class DataTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "torchbert-data-" + Guid.NewGuid().ToString("N"));
    private static readonly BertTokenizer Tokenizer = BertTokenizer.FromFolder(Fixtures.Dir("tiny-bert-mlm"));

    public DataTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void CsvWithQuotesPairsAndLabels()
    {
        var path = Write("train.csv", "text,text_pair,label\n\"simple, easy \"\"paint\"\" program\",for GNOME,graphics\nYet another minesweeper,,games\n");
        var records = TextClassificationData.Read(path);
        records.Should().HaveCount(2);
        records[0].Text("text").Should().Be("simple, easy \"paint\" program");
        records[1].Line.Should().Be(3);
        var labels = TextClassificationData.Labels(records);
        labels.Should().Equal("games", "graphics");
        var features = TextClassificationData.Features(records, Tokenizer, labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i), 128);
        features[0].Label.Should().Be(1);
        features[0].InputIds.Should().Equal(Tokenizer.Encode("simple, easy \"paint\" program", "for GNOME").InputIds);
        features[0].TokenTypeIds!.Should().Contain(1);
    }

    [Fact]
    public void JsonlPreTokenizedAndNumericLabels()
    {
        var path = Write("train.jsonl", "{\"input_ids\": [101, 7592, 102], \"label\": 10}\n\n{\"input_ids\": [101, 102], \"label\": 2}\n");
        var records = TextClassificationData.Read(path);
        TextClassificationData.Labels(records).Should().Equal("2", "10");   // numeric order, as the scripts sort ints
        var f = TextClassificationData.Features(records, Tokenizer, new Dictionary<string, int> { ["2"] = 0, ["10"] = 1 }, 128);
        f[0].InputIds.Should().Equal(101, 7592, 102);
        f[0].Label.Should().Be(1);
        f[1].Source.Should().Be($"{path}:3");
    }

    [Fact]
    public void BadDataGivesOneLineNamingFileLineAndValue()
    {
        var labels = new Dictionary<string, int> { ["games"] = 0 };
        var unknown = Write("a.csv", "text,label\nfoo,games\nbar,sound\n");
        FluentActions.Invoking(() => TextClassificationData.Features(TextClassificationData.Read(unknown), Tokenizer, labels, 128))
            .Should().Throw<DataFileException>().WithMessage($"{unknown}:3: unknown label 'sound' (the model's labels: games)");
        var missing = Write("b.csv", "sentence_x,label\nfoo,games\n");
        FluentActions.Invoking(() => TextClassificationData.Features(TextClassificationData.Read(missing), Tokenizer, labels, 128))
            .Should().Throw<DataFileException>().WithMessage($"{missing}:2: no 'text' value (columns: sentence_x, label)");
        var empty = Write("c.csv", "");
        FluentActions.Invoking(() => TextClassificationData.Read(empty)).Should().Throw<DataFileException>().WithMessage($"{empty}: no records (the file is empty)");
        var ragged = Write("d.csv", "text,label\nfoo,games,extra\n");
        FluentActions.Invoking(() => TextClassificationData.Read(ragged)).Should().Throw<DataFileException>().WithMessage($"{ragged}:2: 3 fields, the header has 2*");
        var json = Write("e.jsonl", "{\"text\": \"a\", \"label\": \"games\"}\n{\"text\": \"b\" \"label\": 1}\n");
        FluentActions.Invoking(() => TextClassificationData.Read(json)).Should().Throw<DataFileException>().WithMessage($"{json}:2: invalid JSON*");
    }

    [Fact]
    public void TokenClassificationLabelsOnFirstSubTokenOnly()
    {
        var path = Write("train.conll", "-DOCSTART- O\n\nJohn B-PER\nunaffable O\nin O\nBerlin B-LOC\n\nHi O\n");
        var sentences = TokenClassificationData.Read(path);
        sentences.Should().HaveCount(2);
        sentences[0].Source.Should().Be($"{path}:3");
        var labels = TokenClassificationData.Labels(sentences);
        labels.Should().Equal("B-LOC", "B-PER", "O");
        var ids = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i);
        var f = TokenClassificationData.Features(sentences, Tokenizer, ids, 128)[0];
        var pieces = sentences[0].Words.Select(w => Tokenizer.Tokenize(w)).ToList();
        pieces[1].Length.Should().BeGreaterThan(1, "the test needs a word that splits into sub-words");
        var expected = new List<long> { -100 };
        var tags = new[] { 1L, 2, 2, 0 };
        for (int w = 0; w < 4; w++) { expected.Add(tags[w]); expected.AddRange(Enumerable.Repeat(-100L, pieces[w].Length - 1)); }
        expected.Add(-100);
        f.Labels.Should().Equal(expected);
        f.InputIds.Should().Equal(Tokenizer.Encode("John unaffable in Berlin").InputIds);
        // truncation keeps [SEP] and drops the tail
        var cut = TokenClassificationData.Features(sentences, Tokenizer, ids, 4)[0];
        cut.InputIds.Should().HaveCount(4);
        cut.InputIds[^1].Should().Be(Tokenizer.SepTokenId);
        var bad = Write("bad.conll", "John B-PER\nfoo B-MISC\n");
        FluentActions.Invoking(() => TokenClassificationData.Features(TokenClassificationData.Read(bad), Tokenizer, ids, 128))
            .Should().Throw<DataFileException>().WithMessage($"{bad}:1 (word 2 'foo'): unknown label 'B-MISC'*");
    }

    [Fact]
    public void SquadWindowsMapAnswersToTokens()
    {
        var context = string.Join(" ", Enumerable.Range(0, 60).Select(i => $"word{i}")) + " The answer is Denver Broncos today. " +
                      string.Join(" ", Enumerable.Range(0, 30).Select(i => $"tail{i}"));
        var start = context.IndexOf("Denver Broncos", StringComparison.Ordinal);
        var json = $$"""{"data": [{"title": "t", "paragraphs": [{"context": "{{context}}", "qas": [{"id": "q1", "question": "  Who won?", "answers": [{"text": "Denver Broncos", "answer_start": {{start}}}]}]}]}]}""";
        var path = Write("squad.json", json);
        var examples = QuestionAnsweringData.Read(path);
        var features = QuestionAnsweringData.Features(examples, Tokenizer, 64, 16, training: true);
        features.Count.Should().BeGreaterThan(2);
        int withAnswer = 0;
        foreach (var f in features)
        {
            f.InputIds.Length.Should().BeLessThanOrEqualTo(64);
            f.InputIds[0].Should().Be(Tokenizer.ClsTokenId);
            if (f.StartPosition == 0) { f.EndPosition.Should().Be(0); continue; }
            withAnswer++;
            Tokenizer.Decode(f.InputIds[(int)f.StartPosition!..((int)f.EndPosition! + 1)]).Should().Be("denver broncos");
            var (s, _) = f.ContextOffsets![(int)f.StartPosition!]!.Value;
            var (_, e) = f.ContextOffsets![(int)f.EndPosition!]!.Value;
            context[s..e].Should().Be("Denver Broncos");
        }
        withAnswer.Should().BeGreaterThan(0);
        // consecutive windows overlap by the stride: the second starts (window - stride) context tokens after the first
        var q = Tokenizer.Encode("Who won?", null, new EncodeOptions { AddSpecialTokens = false }).Length;
        int window = 64 - q - 3;
        var c = Tokenizer.Encode(context, null, new EncodeOptions { AddSpecialTokens = false });
        features[1].InputIds[(q + 2)..(q + 2 + 5)].Should().Equal(c.InputIds[(window - 16)..(window - 16 + 5)]);

        var wrong = Write("wrong.json", json.Replace($"\"answer_start\": {start}", $"\"answer_start\": {start + 3}"));
        FluentActions.Invoking(() => QuestionAnsweringData.Read(wrong)).Should().Throw<DataFileException>()
            .WithMessage($"{wrong}: data[0].paragraphs[0]: question 'q1': answer 'Denver Broncos' at answer_start {start + 3} is not in the context*");
    }

    [Fact]
    public void MlmCollatorMasks15PercentAs80_10_10AndIsSeeded()
    {
        var feature = new Feature
        {
            InputIds = [101, .. Enumerable.Range(1000, 4000).Select(i => (long)i), 102],
            SpecialTokensMask = [1, .. new long[4000], 1],
        };
        var features = new List<Feature> { feature, feature with { InputIds = feature.InputIds[..100], SpecialTokensMask = [.. feature.SpecialTokensMask[..99], 1] } };
        using var g1 = new Generator(7);
        using var batch = DataCollator.MaskTokens(features, 0, 103, 30522, g1, CPU);
        var ids = batch.InputIds.data<long>().ToArray();
        var labels = batch.Labels!.data<long>().ToArray();
        var t = (int)batch.InputIds.shape[1];
        int masked = 0, asMask = 0, kept = 0;
        for (int i = 0; i < t; i++)
        {
            if (labels[i] == -100) { ids[i].Should().Be(feature.InputIds[i]); continue; }
            masked++;
            labels[i].Should().Be(feature.InputIds[i]);
            if (ids[i] == 103) asMask++;
            else if (ids[i] == feature.InputIds[i]) kept++;
        }
        labels[0].Should().Be(-100);
        labels[t - 1].Should().Be(-100);
        ((double)masked / 4000).Should().BeApproximately(0.15, 0.025);
        ((double)asMask / masked).Should().BeApproximately(0.8, 0.05);
        ((double)kept / masked).Should().BeApproximately(0.1, 0.04);
        // padding of the short row is never a target
        labels.Skip(t + 100).Should().OnlyContain(l => l == -100);
        using var g2 = new Generator(7);
        using var again = DataCollator.MaskTokens(features, 0, 103, 30522, g2, CPU);
        again.InputIds.data<long>().ToArray().Should().Equal(ids);
    }

    [Fact]
    public void DynamicPaddingToTheLongestRow()
    {
        var a = new Feature { InputIds = [101, 5, 6, 102], Labels = [-100, 1, 2, -100] };
        var b = new Feature { InputIds = [101, 102], Labels = [-100, -100] };
        using var batch = DataCollator.Pad([a, b], 0, CPU);
        batch.InputIds.shape.Should().Equal(2, 4);
        batch.InputIds.data<long>().ToArray().Should().Equal(101, 5, 6, 102, 101, 102, 0, 0);
        batch.AttentionMask.data<long>().ToArray().Should().Equal(1, 1, 1, 1, 1, 1, 0, 0);
        batch.Labels!.data<long>().ToArray().Should().Equal(-100, 1, 2, -100, -100, -100, -100, -100);
    }
}
