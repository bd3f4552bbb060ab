using TorchBert.Pipelines;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

/// <summary>
/// token-classification against HF's token_classification.py re-done here as Python does it (dicts, numpy-style
/// softmax, gather_pre_entities / aggregate_words / group_entities), on logits from the model, plus hand-derived
/// character spans on texts with accents, CJK and emoji.
/// </summary>
public sealed class TokenClassificationPipelineTests : IClassFixture<TokenClassificationPipelineTests.Model>
{
    public sealed class Model : IDisposable
    {
        public TokenClassificationPipeline Pipe { get; } = TokenClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-tokcls"), new PipelineOptions { Device = CPU });
        public void Dispose() => Pipe.Dispose();
    }

    private readonly TokenClassificationPipeline pipe;
    public TokenClassificationPipelineTests(Model m) => pipe = m.Pipe;

    private static readonly string[] Id2Label = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];

    private static readonly string[] Texts =
    [
        "John Johnson is playing in Paris and London.",
        "Café in 東京 😀 now, newyork!",
        "the playing of johnsons cafés",
        "東京 and 京東 in the 😀😀 of paris",
        "the cafe of london , and paris",
    ];

    // ------------------------------------------------------------- the oracle: HF's postprocess, as Python does it

    private sealed class Py : Dictionary<string, object?>;

    private static Py[] Oracle(string sentence, BertEncoding enc, double[] flatLogits, string strategy, string[]? ignore = null)
    {
        ignore ??= ["O"];
        int labels = Id2Label.Length;
        var preEntities = new List<Py>();
        for (int idx = 0; idx < enc.Length; idx++)
        {
            if (enc.SpecialTokensMask[idx] == 1) continue;
            var logits = flatLogits.Skip(idx * labels).Take(labels).ToArray();
            var max = logits.Max();
            var exps = logits.Select(l => Math.Exp(l - max)).ToArray();
            var scores = exps.Select(e => e / exps.Sum()).ToArray();
            var word = TokenString(enc.InputIds[idx]);
            var (start, end) = enc.Offsets[idx];
            var wordRef = sentence.Substring(start, end - start);
            var isSubword = PyLen(word) != PyLen(wordRef);
            if (enc.InputIds[idx] == UnkId) { word = wordRef; isSubword = false; }
            preEntities.Add(new Py { ["word"] = word, ["scores"] = scores, ["start"] = start, ["end"] = end, ["index"] = idx, ["is_subword"] = isSubword });
        }
        List<Py> entities;
        if (strategy is "none" or "simple")
        {
            entities = preEntities.Select(p =>
            {
                var s = (double[])p["scores"]!;
                var i = Array.IndexOf(s, s.Max());
                return new Py { ["entity"] = Id2Label[i], ["score"] = s[i], ["index"] = p["index"], ["word"] = p["word"], ["start"] = p["start"], ["end"] = p["end"] };
            }).ToList();
        }
        else
        {
            entities = [];
            List<Py>? group = null;
            foreach (var p in preEntities)
            {
                if (group is null) group = [p];
                else if ((bool)p["is_subword"]!) group.Add(p);
                else { entities.Add(AggregateWord(group, strategy)); group = [p]; }
            }
            if (group is not null) entities.Add(AggregateWord(group, strategy));
        }
        if (strategy != "none") entities = GroupEntities(entities);
        return entities.Where(e => !ignore.Contains(e.GetValueOrDefault("entity") as string) && !ignore.Contains(e.GetValueOrDefault("entity_group") as string)).ToArray();
    }

    private static Py AggregateWord(List<Py> group, string strategy)
    {
        var word = ConvertTokensToString(group.Select(g => (string)g["word"]!));
        double[] scores;
        if (strategy == "first") scores = (double[])group[0]["scores"]!;
        else if (strategy == "max")
        {
            var best = group[0];
            foreach (var g in group) if (((double[])g["scores"]!).Max() > ((double[])best["scores"]!).Max()) best = g;
            scores = (double[])best["scores"]!;
        }
        else scores = Enumerable.Range(0, Id2Label.Length).Select(j => group.Average(g => ((double[])g["scores"]!)[j])).ToArray();
        var idx = Array.IndexOf(scores, scores.Max());
        return new Py { ["entity"] = Id2Label[idx], ["score"] = scores[idx], ["word"] = word, ["start"] = group[0]["start"], ["end"] = group[^1]["end"] };
    }

    /// <summary>
    /// HF's fast tokenizer convert_tokens_to_string = tokenizers' WordPiece decoder (decoders/wordpiece.rs decode_chain):
    /// "##" stripped from every token but the first, a space before every other token but the first, then the
    /// decoder's cleanup on each token; the pieces are concatenated.
    /// </summary>
    private static string ConvertTokensToString(IEnumerable<string> tokens) => string.Concat(tokens.Select((t, i) =>
    {
        if (i != 0) t = t.StartsWith("##", StringComparison.Ordinal) ? t[2..] : " " + t;
        foreach (var (from, to) in new[] { (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re") })
            t = t.Replace(from, to, StringComparison.Ordinal);
        return t;
    }));

    private static (string, string) Tag(string name) =>
        name.StartsWith("B-") ? ("B", name[2..]) : name.StartsWith("I-") ? ("I", name[2..]) : ("I", name);

    private static List<Py> GroupEntities(List<Py> entities)
    {
        var groups = new List<Py>();
        var disagg = new List<Py>();
        Py Sub(List<Py> es) => new()
        {
            ["entity_group"] = ((string)es[0]["entity"]!).Split('-').Last(),
            ["score"] = es.Average(e => (double)e["score"]!),
            ["word"] = ConvertTokensToString(es.Select(e => (string)e["word"]!)),
            ["start"] = es[0]["start"],
            ["end"] = es[^1]["end"],
        };
        foreach (var e in entities)
        {
            if (disagg.Count == 0) { disagg.Add(e); continue; }
            var (bi, tag) = Tag((string)e["entity"]!);
            var (_, lastTag) = Tag((string)disagg[^1]["entity"]!);
            if (tag == lastTag && bi != "B") disagg.Add(e);
            else { groups.Add(Sub(disagg)); disagg = [e]; }
        }
        if (disagg.Count > 0) groups.Add(Sub(disagg));
        return groups;
    }

    private static int PyLen(string s) => s.EnumerateRunes().Count();

    private static BertTokenizer? tokenizer;
    private static long UnkId => tokenizer!.UnkTokenId;
    private static string TokenString(long id) => tokenizer!.ConvertIdToToken(id);

    private void ShouldMatchOracle(string text, string strategy, IReadOnlyList<TokenEntity> got, string[]? ignore = null)
    {
        tokenizer = pipe.Tokenizer;
        var enc = pipe.Tokenizer.Encode(text);
        var expected = Oracle(text, enc, TextClassificationPipelineTests.ModelLogits(pipe.Model, enc), strategy, ignore);
        var because = $"{strategy} on \"{text}\"";
        got.Should().HaveCount(expected.Length, because);
        for (int i = 0; i < expected.Length; i++)
        {
            var e = expected[i];
            var g = got[i];
            (g.Entity ?? g.EntityGroup).Should().Be((string)(e.GetValueOrDefault("entity") ?? e["entity_group"])!, because);
            (g.Entity is null).Should().Be(!e.ContainsKey("entity"), "entity (none) vs entity_group: " + because);
            g.Word.Should().Be((string)e["word"]!, because);
            g.Start.Should().Be((int)e["start"]!, because);
            g.End.Should().Be((int)e["end"]!, because);
            g.Index.Should().Be(e.GetValueOrDefault("index") as int?, because);
            g.Score.Should().BeApproximately((double)e["score"]!, 1e-5, because);
        }
    }

    // ------------------------------------------------------------- tests

    [Theory]
    [InlineData("none")]
    [InlineData("simple")]
    [InlineData("first")]
    [InlineData("average")]
    [InlineData("max")]
    public void Every_aggregation_strategy_matches_hfs_algorithm(string strategy)
    {
        var aggregation = Enum.Parse<AggregationStrategy>(strategy, ignoreCase: true);
        foreach (var ignore in new[] { null, Array.Empty<string>(), new[] { "O", "B-LOC" } })
        {
            var results = pipe.Run(Texts, new TokenClassificationParams { Aggregation = aggregation, IgnoreLabels = ignore });
            for (int i = 0; i < Texts.Length; i++) ShouldMatchOracle(Texts[i], strategy, results[i], ignore);
        }
    }

    [Fact]
    public void Offsets_are_exact_on_accents_cjk_and_emoji_and_words_follow_the_subword_rule()
    {
        const string text = "Café in 東京 😀 now, newyork!";
        var tokens = pipe.Run(text, new TokenClassificationParams { IgnoreLabels = [] });
        // hand-derived: caf ##e | in | 東 | 京 | 😀 ([UNK], two UTF-16 units) | now | , | new ##york | !
        tokens.Select(t => (t.Word, t.Start, t.End)).Should().Equal(
            ("caf", 0, 3), ("##e", 3, 4), ("in", 5, 7), ("東", 8, 9), ("京", 9, 10), ("😀", 11, 13), ("now", 14, 17), (",", 17, 18),
            ("new", 19, 22), ("##york", 22, 26), ("!", 26, 27));
        tokens.Select(t => t.Index).Should().Equal(Enumerable.Range(1, 11).Select(i => (int?)i));
        foreach (var t in tokens.Where(t => !t.Word.StartsWith("##"))) text[t.Start..t.End].ToLowerInvariant().Replace("é", "e").Should().Be(t.Word);

        // first: the word's label is its first token's; words are caf+##e and new+##york, spans cover the whole word
        var words = pipe.Run(text, new TokenClassificationParams { Aggregation = AggregationStrategy.First, IgnoreLabels = [] });
        var flat = string.Join("|", words.Select(w => text[w.Start..w.End]));
        flat.Should().NotContain("Caf|é", "a sub-word never starts a group of its own under word aggregation");
        words.SelectMany(w => new[] { w.Start, w.End }).Should().BeInAscendingOrder();
        words.First().Start.Should().Be(0);
        TextOffsets.ToCodePoints(text, 13).Should().Be(12, "HF's Python offset after the emoji is one less");
    }

    [Fact]
    public void Long_texts_are_truncated_by_default_and_covered_with_a_stride()
    {
        var text = string.Join(" ", Enumerable.Range(0, 40).Select(i => i % 4 == 0 ? "Paris" : i % 4 == 1 ? "and" : i % 4 == 2 ? "john johnson" : "playing"));
        var enc = pipe.Tokenizer.Encode(text);
        enc.Length.Should().BeGreaterThan(64);
        var truncated = pipe.Run(text, new TokenClassificationParams { IgnoreLabels = [] });
        truncated.Should().HaveCount(62, "truncated to the 64 positions (HF: truncation=True)");
        truncated.Max(t => t.End).Should().BeLessThan(text.Length);

        var p = new TokenClassificationParams { Aggregation = AggregationStrategy.Simple, IgnoreLabels = [], Stride = 16 };
        var strided = pipe.Run(text, p);
        // oracle: every window alone (the tokenizer's windows), then HF's aggregate_overlapping_entities
        tokenizer = pipe.Tokenizer;
        var first = pipe.Tokenizer.Encode(text, null, new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = 64, Stride = 16, ReturnOverflowingTokens = true });
        BertEncoding[] windows = [first, .. first.Overflowing];
        windows.Should().HaveCountGreaterThan(1);
        var all = windows.SelectMany(w => Oracle(text, w, TextClassificationPipelineTests.ModelLogits(pipe.Model, w), "simple", [])).OrderBy(e => (int)e["start"]!).ToList();
        var merged = new List<Py>();
        var previous = all[0];
        foreach (var e in all)
        {
            int s = (int)e["start"]!, ps = (int)previous["start"]!, pe = (int)previous["end"]!;
            if (ps <= s && s < pe)
            {
                int len = (int)e["end"]! - s, plen = pe - ps;
                if (len > plen || (len == plen && (double)e["score"]! > (double)previous["score"]!)) previous = e;
            }
            else { merged.Add(previous); previous = e; }
        }
        merged.Add(previous);
        strided.Select(g => (g.EntityGroup, g.Start, g.End, g.Word)).Should().Equal(merged.Select(e => ((string?)e["entity_group"], (int)e["start"]!, (int)e["end"]!, (string)e["word"]!)));
        strided.Select(g => g.Score).Should().Equal(merged.Select(e => (double)e["score"]!), (a, b) => Math.Abs(a - b) < 1e-5);
        strided.Max(g => g.End).Should().Be(text.Length, "the last word is reached");

        pipe.Invoking(x => x.Run(text, new TokenClassificationParams { Stride = 8 })).Should().Throw<ArgumentException>().WithMessage("stride (8) was given*aggregation_strategy is none*");
        pipe.Invoking(x => x.Run(text, new TokenClassificationParams { Stride = 64, Aggregation = AggregationStrategy.First })).Should().Throw<ArgumentException>().WithMessage("stride must be less than the model's max length (64), got 64");
    }

    [Fact]
    public void A_checkpoint_without_the_classifier_is_refused()
    {
        var act = () => TokenClassificationPipeline.FromPretrained(TorchBert.Tests.Support.Fixtures.Dir("tiny-bert-mlm")).Dispose();
        act.Should().Throw<ArgumentException>().WithMessage("*has no token-classification head (classifier.* were not in the checkpoint)*");
    }
}
