using TorchBert.Tokenization;
using static TorchBert.Tests.Tokenization.TokenizerFixture;

namespace TorchBert.Tests.Tokenization;

public class TokenizerTruncationPaddingTests
{
    private const string Fox = "The quick brown fox jumps over the lazy dog"; // the 1996 quick 4248 brown 2829 fox 4419 jumps 14523 over 2058 ...
    private const string Short = "A short one"; // a 1037 short 2460 one 2028

    private static EncodeOptions Truncate(int maxLength, TruncationStrategy strategy) =>
        new() { MaxLength = maxLength, Truncation = strategy };

    [Fact]
    public void Longest_first_cuts_the_longer_sequence()
    {
        BertEncoding e = Uncased.Encode(Fox, Short, Truncate(12, TruncationStrategy.LongestFirst));
        e.InputIds.Should().Equal(101, 1996, 4248, 2829, 4419, 14523, 2058, 102, 1037, 2460, 2028, 102);
        e.TokenTypeIds.Should().Equal(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1);
    }

    [Fact]
    public void Left_side_keeps_each_sequences_tail_with_longest_first_lengths()
    {
        // tokenizers' TruncationDirection::Left (HF truncation_side="left", TEI truncation_direction "Left"): the same
        // lengths as on the right (3 + 4 here, as the tie test below shows with HF's ids), each sequence keeping its last
        // tokens. The untruncated encoding gives the ids and offsets those tails must have.
        const string first = "one two three four five", second = "six seven eight nine ten";
        var full = Uncased.Encode(first, second);                                 // [CLS] 5 [SEP] 5 [SEP]
        full.InputIds.Should().HaveCount(13);
        var left = Uncased.Encode(first, second, Truncate(10, TruncationStrategy.LongestFirst) with { TruncationSide = TruncationSide.Left });
        left.InputIds.Should().Equal(101, full.InputIds[3], full.InputIds[4], full.InputIds[5], 102,
            full.InputIds[8], full.InputIds[9], full.InputIds[10], full.InputIds[11], 102);
        left.TokenTypeIds.Should().Equal(0, 0, 0, 0, 0, 1, 1, 1, 1, 1);
        left.Offsets[1..4].Should().Equal(full.Offsets[3..6], "character offsets of 'three four five' in the first text");
        left.Offsets[5..9].Should().Equal(full.Offsets[8..12], "character offsets of 'seven eight nine ten' in the second text");
        var right = Uncased.Encode(first, second, Truncate(10, TruncationStrategy.LongestFirst));
        right.InputIds.Should().Equal([101, 2028, 2048, 2093, 102, 2416, 2698, 2809, 3157, 102], "HF's right side, for contrast");

        // A single sequence far over MaxLength: the end of the text is kept (tokenized whole, no early stop).
        var fox = Uncased.Encode(Fox);
        Uncased.Encode(Fox, null, Truncate(5, TruncationStrategy.LongestFirst) with { TruncationSide = TruncationSide.Left })
            .InputIds.Should().Equal(101, fox.InputIds[^4], fox.InputIds[^3], fox.InputIds[^2], 102);

        var overflowing = () => Uncased.Encode(Fox, null, Truncate(5, TruncationStrategy.LongestFirst) with
        {
            TruncationSide = TruncationSide.Left, ReturnOverflowingTokens = true,
        });
        overflowing.Should().Throw<ArgumentException>().WithMessage("*TruncationSide.Left*ReturnOverflowingTokens*");
    }

    [Fact]
    public void Longest_first_on_a_tie_gives_the_odd_token_to_the_second_sequence()
    {
        // 5 + 5 tokens into 10 - 3 = 7: HF's fast tokenizer keeps 3 + 4 (the slow one would keep 4 + 3).
        Uncased.Encode("one two three four five", "six seven eight nine ten", Truncate(10, TruncationStrategy.LongestFirst))
            .InputIds.Should().Equal(101, 2028, 2048, 2093, 102, 2416, 2698, 2809, 3157, 102);
        // 6 + 5 → 4 + 3: the longer (first) gets the odd token.
        Uncased.Encode("one two three four five six", "seven eight nine ten eleven", Truncate(10, TruncationStrategy.LongestFirst))
            .InputIds.Should().Equal(101, 2028, 2048, 2093, 2176, 102, 2698, 2809, 3157, 102);
    }

    [Fact]
    public void Longest_first_compares_lengths_after_the_whole_word_early_stop()
    {
        // Without specials, max 5: tokenizing stops right after the word reaching 5 tokens, so the first sequence
        // counts 6 (una ##ffa ##ble ×2) against 5 (x y z w v; u is never reached) and is the longer: 3 + 2.
        var options = new EncodeOptions { AddSpecialTokens = false, MaxLength = 5, Truncation = TruncationStrategy.LongestFirst };
        BertEncoding e = Uncased.Encode("unaffable unaffable", "x y z w v u", options);
        e.InputIds.Should().Equal(14477, 20961, 3468, 1060, 1061);
        e.TokenTypeIds.Should().Equal(0, 0, 0, 1, 1);
        // Special tokens in the text never trigger the stop: x [SEP] [SEP] y counts 4 against a b c → 2 + 1.
        Uncased.Encode("x [SEP] [SEP] y z", "a b c", options with { MaxLength = 3 }).InputIds.Should().Equal(1060, 102, 1037);
    }

    [Fact]
    public void Only_first_and_only_second_cut_one_side()
    {
        Uncased.Encode(Fox, Short, Truncate(12, TruncationStrategy.OnlyFirst)).InputIds.Should()
            .Equal(101, 1996, 4248, 2829, 4419, 14523, 2058, 102, 1037, 2460, 2028, 102);
        Uncased.Encode(Short, Fox, Truncate(12, TruncationStrategy.OnlySecond)).InputIds.Should()
            .Equal(101, 1037, 2460, 2028, 102, 1996, 4248, 2829, 4419, 14523, 2058, 102);
    }

    [Fact]
    public void Only_one_side_raises_when_that_side_is_too_short_as_hf_does()
    {
        var tooShort = () => Uncased.Encode(Short, Fox, Truncate(8, TruncationStrategy.OnlyFirst));
        tooShort.Should().Throw<TokenizerException>().WithMessage("*OnlyFirst*first sequence has 3 tokens*");
        var noPair = () => Uncased.Encode(Fox, null, Truncate(5, TruncationStrategy.OnlySecond));
        noPair.Should().Throw<TokenizerException>().WithMessage("*second sequence*");
    }

    [Fact]
    public void Max_length_equal_to_the_special_tokens_empties_both_sequences()
    {
        Uncased.Encode(Fox, Short, Truncate(3, TruncationStrategy.OnlyFirst)).InputIds.Should().Equal(101, 102, 102);
    }

    [Fact]
    public void Max_length_below_the_special_tokens_is_an_argument_error()
    {
        var act = () => Uncased.Encode(Fox, Short, Truncate(2, TruncationStrategy.LongestFirst));
        act.Should().Throw<ArgumentException>().WithMessage("*MaxLength 2*3 special tokens*");
    }

    [Fact]
    public void Max_length_alone_truncates_longest_first_like_hf()
    {
        Uncased.Encode(Fox, options: new EncodeOptions { MaxLength = 6 }).InputIds.Should()
            .Equal(101, 1996, 4248, 2829, 4419, 102);
        // ...but not when padding to max_length without an explicit truncation (HF pads only).
        Uncased.Encode(Fox, options: new EncodeOptions { MaxLength = 6, Padding = PaddingStrategy.MaxLength })
            .InputIds.Should().HaveCount(11);
    }

    [Fact]
    public void Truncation_without_max_length_uses_the_model_maximum()
    {
        string text = string.Join(' ', Enumerable.Repeat("hello", 600));
        Uncased.Encode(text, options: new EncodeOptions { Truncation = TruncationStrategy.LongestFirst })
            .InputIds.Should().HaveCount(512).And.EndWith(new long[] { 7592, 102 });
    }

    [Fact]
    public void Pad_to_max_length_fills_pad_ids_and_zero_mask()
    {
        BertEncoding e = Uncased.Encode("Hello world!", options: new EncodeOptions { Padding = PaddingStrategy.MaxLength, MaxLength = 8 });
        e.InputIds.Should().Equal(101, 7592, 2088, 999, 102, 0, 0, 0);
        e.AttentionMask.Should().Equal(1, 1, 1, 1, 1, 0, 0, 0);
        e.TokenTypeIds.Should().Equal(0, 0, 0, 0, 0, 0, 0, 0);
        e.Tokens.Should().EndWith(["[PAD]", "[PAD]", "[PAD]"]);
        e.SpecialTokensMask.Should().Equal(1, 0, 0, 0, 1, 1, 1, 1);
    }

    [Fact]
    public void Batch_pads_to_the_longest_row()
    {
        BatchEncoding b = Uncased.EncodeBatch(["Hello world!", "Hi", "Have a great day!"], options: new EncodeOptions { Padding = PaddingStrategy.Longest });
        b.InputIds[0].Should().Equal(101, 7592, 2088, 999, 102, 0, 0);
        b.InputIds[1].Should().Equal(101, 7632, 102, 0, 0, 0, 0);
        b.InputIds[2].Should().Equal(101, 2031, 1037, 2307, 2154, 999, 102);
        b.AttentionMask[1].Should().Equal(1, 1, 1, 0, 0, 0, 0);
        b.Shape.Should().Equal(3, 7);
        b.FlatInputIds().Should().HaveCount(21).And.StartWith(b.InputIds[0]).And.EndWith(b.InputIds[2]);
        b.FlatAttentionMask()[7..14].Should().Equal(1, 1, 1, 0, 0, 0, 0);
        b.FlatTokenTypeIds().Should().OnlyContain(t => t == 0);
    }

    [Fact]
    public void Batch_of_pairs_pads_with_type_zero()
    {
        BatchEncoding b = Uncased.EncodeBatch(["Hi", "Hello world!"], ["x", "Have a great day!"],
            new EncodeOptions { Padding = PaddingStrategy.Longest });
        b.TokenTypeIds[0].Should().Equal(0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0);
        b.TokenTypeIds[1].Should().Equal(0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1);
        var mismatched = () => Uncased.EncodeBatch(["a", "b"], ["c"]);
        mismatched.Should().Throw<ArgumentException>().WithMessage("*1 pairs for 2 texts*");
    }

    [Fact]
    public void Pad_to_multiple_of_rounds_up()
    {
        Uncased.Encode("Hello world!", options: new EncodeOptions { Padding = PaddingStrategy.Longest, PadToMultipleOf = 8 })
            .InputIds.Should().Equal(101, 7592, 2088, 999, 102, 0, 0, 0);
        Uncased.Encode("Hello world!", options: new EncodeOptions { Padding = PaddingStrategy.MaxLength, MaxLength = 6, PadToMultipleOf = 4 })
            .InputIds.Should().HaveCount(8);
        // Without padding it has no effect.
        Uncased.Encode("Hello world!", options: new EncodeOptions { PadToMultipleOf = 8 }).InputIds.Should().HaveCount(5);
    }

    [Fact]
    public void Ragged_batches_cannot_be_flattened()
    {
        BatchEncoding b = Uncased.EncodeBatch(["Hello world!", "Hi"]);
        b.InputIds[1].Should().Equal(101, 7632, 102);
        var act = () => b.FlatInputIds();
        act.Should().Throw<TokenizerException>().WithMessage("*different lengths*padding*");
    }

    [Fact]
    public void Truncate_and_pad_together()
    {
        BatchEncoding b = Uncased.EncodeBatch([Fox, "Hi"], options: new EncodeOptions
        {
            Padding = PaddingStrategy.MaxLength, Truncation = TruncationStrategy.LongestFirst, MaxLength = 5,
        });
        b.InputIds[0].Should().Equal(101, 1996, 4248, 2829, 102);
        b.InputIds[1].Should().Equal(101, 7632, 102, 0, 0);
    }
}
