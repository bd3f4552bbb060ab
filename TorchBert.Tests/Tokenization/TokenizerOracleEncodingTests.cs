using StringBuilder = System.Text.StringBuilder;
using System.Text.Json;
using TorchBert.Tokenization;
using static TorchBert.Tests.Tokenization.TokenizerFixture;

namespace TorchBert.Tests.Tokenization;

/// <summary>
/// TorchBert against HF <c>tokenizers</c> 0.23.2 on <c>Fixtures/tokenizer-oracle/encodings.jsonl</c>, written by
/// <c>tools/hf-tokenizer-oracle/make_encoding_cases.js</c> (bert-base-uncased's tokenizer.json, the Rust core through
/// its Node binding): ids, token types, attention and special-tokens masks, offsets in code points, word_ids and
/// sequence_ids of every row and every overflowing window, for singles, pairs, every truncation strategy with stride,
/// padding, batches (overflow_to_sample_mapping) and the errors HF raises. Cases marked <c>whole</c> are the
/// whole-input windows (tokenizers ≤ 0.22 and the pending fix); the others are 0.23.2's own encode().
/// </summary>
public class TokenizerOracleEncodingTests
{
    private static readonly string CasesPath = Path.Combine("Fixtures", "tokenizer-oracle", "encodings.jsonl");

    private static List<JsonElement> Cases() =>
        File.ReadLines(CasesPath).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    [Fact]
    public void Every_oracle_case_matches_hf_exactly()
    {
        var cases = Cases();
        var failures = new List<string>();
        int rows = 0;
        foreach (var (c, index) in cases.Select((c, i) => (c, i)))
        {
            try
            {
                rows += Check(c);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failures.Add($"case {index + 1} {Describe(c)}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            }
        }
        failures.Should().BeEmpty($"{failures.Count} of {cases.Count} cases differ from HF:\n{string.Join("\n", failures.Take(20))}");
        cases.Should().HaveCountGreaterThan(500);
        rows.Should().BeGreaterThan(1200, "the cases hold over a thousand rows and windows");
    }

    [Fact]
    public void The_cases_cover_every_kind_asked_for()
    {
        var cases = Cases();
        int Count(Func<JsonElement, bool> f) => cases.Count(f);
        bool Has(JsonElement c, string key) => c.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;
        string Strategy(JsonElement c) => Has(c, "trunc") ? c.GetProperty("trunc").GetProperty("strategy").GetString()! : "";
        int Windows(JsonElement c) => Has(c, "overflowing") ? c.GetProperty("overflowing").GetArrayLength() : 0;
        foreach (string s in new[] { "LongestFirst", "OnlyFirst", "OnlySecond" })
        {
            Count(c => Strategy(c) == s && Has(c, "pair") && Windows(c) > 0 && !Has(c, "whole")).Should().BeGreaterThan(5, s);
            Count(c => Strategy(c) == s && Has(c, "pair") && Windows(c) > 0 && Has(c, "whole")).Should().BeGreaterThan(5, s);
        }
        Count(c => !Has(c, "pair") && !Has(c, "batch") && Windows(c) > 0 && c.GetProperty("trunc").GetProperty("stride").GetInt32() > 0)
            .Should().BeGreaterThan(40, "single texts with stride");
        Count(c => Has(c, "batch") && Has(c, "mapping")).Should().BeGreaterThan(10);
        Count(c => Has(c, "pad") && Windows(c) > 0).Should().BeGreaterThan(10);
        Count(c => Has(c, "pair") && c.GetProperty("pair").GetString() == "" && Has(c, "trunc")).Should().BeGreaterThan(3);
        Count(c => Has(c, "error") || Has(c, "panic")).Should().BeGreaterThan(20);
        Count(c => Has(c, "text") && c.GetProperty("text").GetString()!.EnumerateRunes().Any(r => r.Value > 0xFFFF))
            .Should().BeGreaterThan(20, "emoji and characters outside the BMP, where code-point offsets differ");
    }

    [Fact]
    public void Word_and_char_maps_match_hf_on_rows_and_windows()
    {
        // Fixtures/tokenizer-oracle/word-maps.jsonl (make_word_maps.js): word_to_tokens, word_to_chars, char_to_token
        // for sequence 0 and 1 of every row and window, positions in code points.
        int checkedRows = 0;
        foreach (string line in File.ReadLines(Path.Combine("Fixtures", "tokenizer-oracle", "word-maps.jsonl")))
        {
            var c = JsonDocument.Parse(line).RootElement;
            string text = c.GetProperty("text").GetString()!;
            string? pair = c.TryGetProperty("pair", out var p) ? p.GetString() : null;
            BertEncoding e = Uncased.Encode(text, pair, Options(c));
            var expected = new List<JsonElement> { c };
            if (c.TryGetProperty("overflowing", out var o)) expected.AddRange(o.EnumerateArray());
            e.Overflowing.Should().HaveCount(expected.Count - 1);
            for (int r = 0; r < expected.Count; r++)
            {
                BertEncoding row = r == 0 ? e : e.Overflowing[r - 1];
                string what = $"{Describe(c)} window {r}";
                CheckRow(row, expected[r], text, pair, what);
                for (int seq = 0; seq < 2; seq++)
                {
                    var w2t = expected[r].GetProperty($"w2t{seq}").EnumerateArray().ToList();
                    var w2c = expected[r].GetProperty($"w2c{seq}").EnumerateArray().ToList();
                    for (int w = 0; w < w2t.Count; w++)
                    {
                        var tokens = row.WordToTokens(w, seq);
                        Pair(w2t[w]).Should().Be(tokens, $"{what}: word_to_tokens({w}, {seq})");
                        var chars = row.WordToChars(w, seq);
                        if (chars is var (cs, ce))
                        {
                            string own = row.SequenceIds[tokens!.Value.Start] == 1 ? pair! : text;
                            chars = (TextOffsets.ToCodePoints(own, cs), TextOffsets.ToCodePoints(own, ce));
                        }
                        Pair(w2c[w]).Should().Be(chars, $"{what}: word_to_chars({w}, {seq})");
                    }
                    string seqText = seq == 0 ? text : pair ?? "";
                    var c2t = expected[r].GetProperty($"c2t{seq}").EnumerateArray().ToList();
                    for (int cp = 0; cp < c2t.Count; cp++)
                    {
                        int? want = c2t[cp].ValueKind == JsonValueKind.Null ? null : c2t[cp].GetInt32();
                        row.CharToToken(TextOffsets.ToUtf16(seqText, cp), seq).Should().Be(want, $"{what}: char_to_token({cp}, {seq})");
                    }
                }
                checkedRows++;
            }
        }
        checkedRows.Should().BeGreaterThan(80);

        static (int, int)? Pair(JsonElement x) => x.ValueKind == JsonValueKind.Null ? null : (x[0].GetInt32(), x[1].GetInt32());
    }

    [Fact]
    public void Stride_windows_of_a_single_text_overlap_and_keep_word_ids()
    {
        // Oracle case: "one ... ten", max_length 6, stride 2, whole input: windows of 4 tokens, 2 shared.
        var options = new EncodeOptions { MaxLength = 6, Truncation = TruncationStrategy.LongestFirst, Stride = 2, ReturnOverflowingTokens = true };
        BertEncoding e = Uncased.Encode("one two three four five six seven eight nine ten", options: options);
        e.Tokens.Should().Equal("[CLS]", "one", "two", "three", "four", "[SEP]");
        e.Overflowing.Select(w => string.Join(' ', w.Tokens[1..^1])).Should().Equal("three four five six", "five six seven eight", "seven eight nine ten");
        e.Overflowing[0].WordIds.Should().Equal(null, 2, 3, 4, 5, null);
        e.Overflowing[0].SequenceIds.Should().Equal(null, 0, 0, 0, 0, null);
        e.Overflowing[0].Offsets.Should().Equal((0, 0), (8, 13), (14, 18), (19, 23), (24, 27), (0, 0));
        // tokenizers 0.23.2 stops tokenizing at max_length (huggingface/tokenizers#2091): one window only.
        Uncased.Encode("one two three four five six seven eight nine ten", options: options with { OverflowStopsAtMaxLength = true })
            .Overflowing.Should().ContainSingle().Which.Tokens.Should().Equal("[CLS]", "three", "four", "five", "six", "[SEP]");
    }

    [Fact]
    public void Only_second_windows_repeat_the_question_and_slide_over_the_context()
    {
        var options = new EncodeOptions { MaxLength = 9, Truncation = TruncationStrategy.OnlySecond, Stride = 1, ReturnOverflowingTokens = true };
        BatchEncoding b = Uncased.EncodeBatch(["a b c", "x"], ["one two three four five six seven eight nine ten", "y z"], options);
        b.Encodings.Select(r => string.Join(' ', r.Tokens)).Should().Equal(
            "[CLS] a b c [SEP] one two three [SEP]", "[CLS] a b c [SEP] three four five [SEP]",
            "[CLS] a b c [SEP] five six seven [SEP]", "[CLS] a b c [SEP] seven eight nine [SEP]",
            "[CLS] a b c [SEP] nine ten [SEP]", "[CLS] x [SEP] y z [SEP]");
        b.OverflowToSampleMapping.Should().Equal(0, 0, 0, 0, 0, 1);
        b.Encodings[1].SequenceIds.Should().Equal(null, 0, 0, 0, null, 1, 1, 1, null);
        b.Encodings[1].TokenTypeIds.Should().Equal(0, 0, 0, 0, 0, 1, 1, 1, 1);
        b.Encodings[1].WordIds.Should().Equal(null, 0, 1, 2, null, 2, 3, 4, null);
        b.Encodings[1].Offsets[5..8].Should().Equal((8, 13), (14, 18), (19, 23));   // into the context
        Uncased.EncodeBatch(["a"], options: options with { Truncation = TruncationStrategy.LongestFirst, ReturnOverflowingTokens = false })
            .OverflowToSampleMapping.Should().BeNull();
        // As HF, the mapping comes whenever overflow is asked for, truncating or not.
        Uncased.EncodeBatch(["a", "b c"], options: new EncodeOptions { ReturnOverflowingTokens = true })
            .OverflowToSampleMapping.Should().Equal(0, 1);
    }

    [Fact]
    public void Readme_example_is_true()
    {
        string question = "Who?", context = "one two three four five six seven eight nine ten";
        var windows = Uncased.EncodeBatch([question], [context], new EncodeOptions
        {
            MaxLength = 10, Truncation = TruncationStrategy.OnlySecond, Stride = 2, ReturnOverflowingTokens = true,
        });
        windows.Encodings.Select(r => string.Join(' ', r.Tokens)).Should().Equal(
            "[CLS] who ? [SEP] one two three four five [SEP]", "[CLS] who ? [SEP] four five six seven eight [SEP]",
            "[CLS] who ? [SEP] seven eight nine ten [SEP]");
        string.Join(",", windows.OverflowToSampleMapping!).Should().Be("0,0,0");
        var second = windows.Encodings[1];
        string.Join(",", second.SequenceIds).Should().Be(",0,0,,1,1,1,1,1,");
        string.Join(",", second.WordIds).Should().Be(",0,1,,3,4,5,6,7,");
        second.CodePointOffsets(question, context)[4].ToString().Should().Be("(14, 18)");
    }

    [Fact]
    public void Code_point_offsets_count_emoji_once_as_python_does()
    {
        const string text = "😀 café 👍🏽!";
        BertEncoding e = Uncased.Encode(text, "x 😀 y");
        e.Offsets[1..4].Should().Equal((0, 2), (3, 7), (8, 12));            // UTF-16: 😀, café, 👍🏽 (two surrogate pairs)
        var cp = e.CodePointOffsets(text, "x 😀 y");
        cp[1..5].Should().Equal((0, 1), (2, 6), (7, 9), (9, 10));          // code points, as HF's offset_mapping
        cp[^3..].Should().Equal((2, 3), (4, 5), (0, 0));                    // the pair's own text: "😀" then "y"
        TextOffsets.ToCodePoints(text, 8).Should().Be(7);
        TextOffsets.ToUtf16(text, 7).Should().Be(8);
        var noPair = () => e.CodePointOffsets(text);
        noPair.Should().Throw<ArgumentException>().WithMessage("*sequence 1*textPair*");
    }

    [Fact]
    public void Stride_errors_are_one_line_argument_or_tokenizer_errors()
    {
        var tooLarge = () => Uncased.Encode("short", options: new EncodeOptions { MaxLength = 8, Truncation = TruncationStrategy.LongestFirst, Stride = 7 });
        tooLarge.Should().Throw<ArgumentException>().WithMessage("Stride 7 is larger than MaxLength 8 minus the 2 special tokens*");
        var noRoom = () => Uncased.Encode("one two three four five", "six seven eight nine ten",
            new EncodeOptions { MaxLength = 7, Truncation = TruncationStrategy.LongestFirst, Stride = 2, ReturnOverflowingTokens = true });
        noRoom.Should().Throw<TokenizerException>().WithMessage("Stride 2 must be smaller than the 2 tokens the first sequence is truncated to*");
        var negative = () => Uncased.Encode("x", options: new EncodeOptions { Stride = -1 });
        negative.Should().Throw<ArgumentException>().WithMessage("Stride must be >= 0*");
    }

    private static int Check(JsonElement c)
    {
        bool failing = c.TryGetProperty("error", out _) || c.TryGetProperty("panic", out _);
        var options = Options(c);
        if (c.TryGetProperty("batch", out var batch))
        {
            var items = batch.EnumerateArray().ToList();
            var texts = items.Select(x => x.GetProperty("text").GetString()!).ToList();
            bool pairs = items.Any(x => x.TryGetProperty("pair", out _));
            var pairTexts = pairs ? items.Select(x => x.GetProperty("pair").GetString()!).ToList() : null;
            if (failing)
            {
                ExpectFailure(() => Uncased.EncodeBatch(texts, pairTexts, options));
                return 0;
            }
            BatchEncoding b = Uncased.EncodeBatch(texts, pairTexts, options);
            var expected = c.GetProperty("rows").EnumerateArray().ToList();
            b.Encodings.Should().HaveCount(expected.Count, "rows");
            int[]? mapping = c.TryGetProperty("mapping", out var m) ? m.EnumerateArray().Select(x => x.GetInt32()).ToArray() : null;
            if (mapping is null) b.OverflowToSampleMapping.Should().BeNull();
            else b.OverflowToSampleMapping.Should().Equal(mapping);
            for (int r = 0; r < expected.Count; r++)
            {
                int sample = mapping?[r] ?? r;
                CheckRow(b.Encodings[r], expected[r], texts[sample], pairTexts?[sample], $"row {r}");
            }
            return expected.Count;
        }
        string text = c.GetProperty("text").GetString()!;
        string? pair = c.TryGetProperty("pair", out var p) ? p.GetString() : null;
        if (failing)
        {
            ExpectFailure(() => Uncased.Encode(text, pair, options));
            return 0;
        }
        BertEncoding e = Uncased.Encode(text, pair, options);
        CheckRow(e, c, text, pair, "row");
        var windows = c.TryGetProperty("overflowing", out var o) ? o.EnumerateArray().ToList() : [];
        e.Overflowing.Should().HaveCount(windows.Count, "overflowing windows");
        for (int w = 0; w < windows.Count; w++)
        {
            CheckRow(e.Overflowing[w], windows[w], text, pair, $"window {w + 1}");
            e.Overflowing[w].Overflowing.Should().BeEmpty();
        }
        return 1 + windows.Count;
    }

    private static void ExpectFailure(Action encode)
    {
        // HF raises (or panics, in Rust); TorchBert gives a one-line error.
        var act = encode;
        var thrown = act.Should().Throw<Exception>().Which;
        (thrown is TokenizerException or ArgumentException).Should().BeTrue($"a clear error, not {thrown.GetType().Name}: {thrown.Message}");
        thrown.Message.Should().NotContain("\n");
    }

    private static EncodeOptions Options(JsonElement c)
    {
        var o = new EncodeOptions
        {
            AddSpecialTokens = !c.TryGetProperty("add", out var add) || add.GetBoolean(),
            Truncation = TruncationStrategy.None,
            ReturnOverflowingTokens = c.TryGetProperty("overflow", out var ov) && ov.GetBoolean(),
            OverflowStopsAtMaxLength = !(c.TryGetProperty("whole", out var whole) && whole.GetBoolean()),
        };
        if (c.TryGetProperty("trunc", out var t))
        {
            o = o with
            {
                MaxLength = t.GetProperty("max").GetInt32(),
                Truncation = Enum.Parse<TruncationStrategy>(t.GetProperty("strategy").GetString()!),
                Stride = t.GetProperty("stride").GetInt32(),
            };
        }
        if (c.TryGetProperty("pad", out var pad))
        {
            int? multiple = pad.TryGetProperty("multiple", out var mu) ? mu.GetInt32() : null;
            if (pad.TryGetProperty("max", out var max))
            {
                (o.MaxLength ?? max.GetInt32()).Should().Be(max.GetInt32(), "the cases pad to the truncation length");
                o = o with { Padding = PaddingStrategy.MaxLength, MaxLength = max.GetInt32(), PadToMultipleOf = multiple };
            }
            else
            {
                o = o with { Padding = PaddingStrategy.Longest, PadToMultipleOf = multiple };
            }
        }
        return o;
    }

    private static void CheckRow(BertEncoding e, JsonElement expected, string text, string? pair, string what)
    {
        long[] Longs(string key) => expected.GetProperty(key).EnumerateArray().Select(x => x.GetInt64()).ToArray();
        int?[] Nullables(string key) =>
            expected.GetProperty(key).EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? (int?)null : x.GetInt32()).ToArray();
        e.InputIds.Should().Equal(Longs("ids"), $"{what} input_ids");
        e.TokenTypeIds.Should().Equal(Longs("types"), $"{what} token_type_ids");
        e.AttentionMask.Should().Equal(Longs("mask"), $"{what} attention_mask");
        e.SpecialTokensMask.Should().Equal(Longs("special"), $"{what} special_tokens_mask");
        e.WordIds.Should().Equal(Nullables("words"), $"{what} word_ids");
        e.SequenceIds.Should().Equal(Nullables("seqs"), $"{what} sequence_ids");
        var offsets = expected.GetProperty("offsets").EnumerateArray()
            .Select(x => (x[0].GetInt32(), x[1].GetInt32())).ToArray();
        e.CodePointOffsets(text, pair).Should().Equal(offsets, $"{what} offset_mapping (code points)");
        e.Tokens.Should().Equal(Uncased.ConvertIdsToTokens(e.InputIds), $"{what} tokens");
    }

    private static string Describe(JsonElement c)
    {
        var s = new StringBuilder();
        foreach (string key in new[] { "trunc", "pad", "overflow", "whole", "add" })
            if (c.TryGetProperty(key, out var v)) s.Append(key).Append('=').Append(v.GetRawText()).Append(' ');
        if (c.TryGetProperty("text", out var t)) s.Append("text=").Append(Clip(t.GetString()!)).Append(' ');
        if (c.TryGetProperty("pair", out var p)) s.Append("pair=").Append(Clip(p.GetString()!));
        if (c.TryGetProperty("batch", out var b)) s.Append("batch of ").Append(b.GetArrayLength());
        return s.ToString();
    }

    private static string Clip(string s) => JsonSerializer.Serialize(s.Length > 40 ? s[..40] + "..." : s);
}
