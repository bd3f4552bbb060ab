namespace TorchBert.Tokenization;

public sealed partial class BertTokenizer
{
    /// <summary>
    /// HF <c>tokenizer(text, text_pair, ...)</c> for one input: <c>[CLS] A [SEP]</c> or <c>[CLS] A [SEP] B [SEP]</c>
    /// (token type 1 from B on), truncated and padded as <paramref name="options"/> say.
    /// </summary>
    /// <exception cref="TokenizerException">The requested truncation cannot be done (as HF raises).</exception>
    /// <exception cref="ArgumentException">Invalid option values (max_length below what special tokens need, ...).</exception>
    public BertEncoding Encode(string text, string? textPair = null, EncodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var plan = Plan.From(options ?? EncodeOptions.Default, this, hasPair: textPair is not null);
        BertEncoding row = EncodeUnpadded(text, textPair, plan);
        int? target = plan.Padding switch
        {
            PaddingStrategy.Longest => row.Length,
            PaddingStrategy.MaxLength => plan.MaxLength,
            _ => null,
        };
        return target is int t ? PadWithOverflowing(row, plan.RoundUp(t)) : row;
    }

    /// <summary>
    /// HF <c>tokenizer(texts, text_pairs, ...)</c> for a batch: one row per text (paired with
    /// <paramref name="pairs"/>[i] when given), padded together as <paramref name="options"/> say.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="pairs"/> does not have one entry per text, or invalid options.</exception>
    /// <exception cref="TokenizerException">The requested truncation cannot be done (as HF raises).</exception>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, IReadOnlyList<string>? pairs = null,
        EncodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (pairs is not null && pairs.Count != texts.Count)
            throw new ArgumentException($"{pairs.Count} pairs for {texts.Count} texts: give one pair per text", nameof(pairs));
        var plan = Plan.From(options ?? EncodeOptions.Default, this, hasPair: pairs is not null);
        var rows = new BertEncoding[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            rows[i] = EncodeUnpadded(texts[i] ?? throw new ArgumentException($"texts[{i}] is null", nameof(texts)),
                pairs is null ? null : pairs[i] ?? throw new ArgumentException($"pairs[{i}] is null", nameof(pairs)), plan);
        }
        // tokenizers pads to the longest row of the batch (overflowing windows are never longer), windows too.
        int? target = plan.Padding switch
        {
            PaddingStrategy.Longest => rows.Length == 0 ? 0 : rows.Max(r => r.Length),
            PaddingStrategy.MaxLength => plan.MaxLength,
            _ => null,
        };
        if (target is int t)
        {
            int length = plan.RoundUp(t);
            for (int i = 0; i < rows.Length; i++) rows[i] = PadWithOverflowing(rows[i], length);
        }
        if (!plan.ReturnOverflowing) return new BatchEncoding(rows);
        // HF's fast tokenizer: each input's row, then its windows, as rows of their own.
        var all = new List<BertEncoding>(rows.Length);
        var mapping = new List<int>(rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            all.Add(rows[i]);
            mapping.Add(i);
            foreach (BertEncoding window in rows[i].Overflowing)
            {
                all.Add(window);
                mapping.Add(i);
            }
        }
        return new BatchEncoding(all, mapping);
    }

    /// <summary>Resolved options: HF's defaults for missing max_length / truncation applied and checked.</summary>
    private readonly record struct Plan(bool AddSpecialTokens, PaddingStrategy Padding, TruncationStrategy Truncation,
        int MaxLength, int? PadToMultipleOf, int Stride, bool ReturnOverflowing, bool EarlyStop, bool KeepTail)
    {
        public static Plan From(EncodeOptions o, BertTokenizer tokenizer, bool hasPair)
        {
            if (o.MaxLength is < 0)
                throw new ArgumentException($"MaxLength must be >= 0, got {o.MaxLength}", nameof(o.MaxLength));
            if (o.PadToMultipleOf is <= 0)
                throw new ArgumentException($"PadToMultipleOf must be > 0, got {o.PadToMultipleOf}", nameof(o.PadToMultipleOf));
            if (o.Stride < 0)
                throw new ArgumentException($"Stride must be >= 0, got {o.Stride}", nameof(o.Stride));
            // HF: max_length without padding and without an explicit truncation means "longest_first".
            TruncationStrategy truncation = o.Truncation
                ?? (o.MaxLength is not null && o.Padding == PaddingStrategy.None ? TruncationStrategy.LongestFirst : TruncationStrategy.None);
            int maxLength = o.MaxLength ?? tokenizer.ModelMaxLength;
            int specials = o.AddSpecialTokens ? (hasPair ? 3 : 2) : 0;
            if (truncation != TruncationStrategy.None && maxLength < specials)
                throw new ArgumentException(
                    $"MaxLength {maxLength} is smaller than the {specials} special tokens a {(hasPair ? "pair" : "single sequence")} needs",
                    nameof(o.MaxLength));
            // tokenizers' with_truncation: the stride must fit in max_length minus a single sequence's 2 special
            // tokens (whatever add_special_tokens and the pair say), checked even when nothing needs truncating.
            if (truncation != TruncationStrategy.None && o.Stride > maxLength - 2)
                throw new ArgumentException(
                    $"Stride {o.Stride} is larger than MaxLength {maxLength} minus the 2 special tokens of a sequence ({maxLength - 2})",
                    nameof(o.Stride));
            bool keepTail = o.TruncationSide == TruncationSide.Left;
            if (keepTail && o.ReturnOverflowingTokens)
                throw new ArgumentException("TruncationSide.Left with ReturnOverflowingTokens is not supported; truncate on the right for overflowing windows",
                    nameof(o.TruncationSide));
            bool earlyStop = !keepTail && truncation != TruncationStrategy.None && (!o.ReturnOverflowingTokens || o.OverflowStopsAtMaxLength);
            return new Plan(o.AddSpecialTokens, o.Padding, truncation, maxLength, o.PadToMultipleOf,
                truncation == TruncationStrategy.None ? 0 : o.Stride, o.ReturnOverflowingTokens,
                earlyStop, keepTail);
        }

        public int RoundUp(int length) =>
            PadToMultipleOf is int m && length % m != 0 ? (length / m + 1) * m : length;
    }

    private BertEncoding EncodeUnpadded(string text, string? pair, Plan plan)
    {
        // When truncating, tokenizers >= 0.23.1 stops tokenizing a sequence after the word that reaches max_length
        // tokens (the first sequence only when it may be truncated), then fits both into the budget left by the
        // special tokens. That early stop decides which sequence LongestFirst sees as longer, and whether a pair
        // already fits, so it is reproduced -- except when overflowing windows are wanted (see EncodeOptions).
        int firstCap = plan.EarlyStop && plan.Truncation != TruncationStrategy.OnlySecond ? plan.MaxLength : int.MaxValue;
        List<Piece> first = TokenizeSequence(text, firstCap);
        List<Piece>? second = pair is null ? null : TokenizeSequence(pair, plan.EarlyStop ? plan.MaxLength : int.MaxValue);
        int specials = plan.AddSpecialTokens ? (second is null ? 2 : 3) : 0;
        if (plan.Truncation == TruncationStrategy.None)
            return Build(first, (0, first.Count), second, (0, second?.Count ?? 0));
        var (max1, max2) = TruncatedLengths(first.Count, second?.Count, plan.MaxLength - specials, plan.Truncation);
        if (!plan.ReturnOverflowing)
        {
            CheckStride(first.Count, max1, plan.Stride, "first");
            if (second is not null) CheckStride(second.Count, max2, plan.Stride, "second");
            int keep1 = Math.Min(first.Count, max1), keep2 = Math.Min(second?.Count ?? 0, max2);
            return plan.KeepTail
                ? Build(first, (first.Count - keep1, first.Count), second, ((second?.Count ?? 0) - keep2, second?.Count ?? 0))
                : Build(first, (0, keep1), second, (0, keep2));
        }
        // tokenizers' Encoding.truncate splits each sequence into windows; merging the template's parts then gives
        // (A0, B0) as the row and, in this order, (Ai, B0), (Ai, B1), ... for each further window Ai of the first
        // sequence, then (A0, Bj) for each further window Bj of the second.
        List<(int Start, int End)> windows1 = Windows(first.Count, max1, plan.Stride, "first");
        List<(int Start, int End)> windows2 = second is null ? [(0, 0)] : Windows(second.Count, max2, plan.Stride, "second");
        var overflowing = new List<BertEncoding>(windows1.Count * windows2.Count - 1);
        for (int i = 1; i < windows1.Count; i++)
        {
            foreach (var w2 in windows2) overflowing.Add(Build(first, windows1[i], second, w2));
        }
        for (int j = 1; j < windows2.Count; j++) overflowing.Add(Build(first, windows1[0], second, windows2[j]));
        return Build(first, windows1[0], second, windows2[0], overflowing);

        BertEncoding Build(List<Piece> a, (int Start, int End) wa, List<Piece>? b, (int Start, int End) wb,
            IReadOnlyList<BertEncoding>? overflow = null) =>
            BuildRow(a, wa, b, wb, plan.AddSpecialTokens, overflow);
    }

    /// <summary>[CLS] A[wa] [SEP] (B[wb] [SEP]) with ids, types, mask, special mask, tokens, offsets, words, ranges.</summary>
    private BertEncoding BuildRow(List<Piece> first, (int Start, int End) w1, List<Piece>? second, (int Start, int End) w2,
        bool addSpecialTokens, IReadOnlyList<BertEncoding>? overflowing)
    {
        int n1 = w1.End - w1.Start, n2 = second is null ? 0 : w2.End - w2.Start;
        int n = n1 + n2 + (addSpecialTokens ? (second is null ? 2 : 3) : 0);
        var ids = new long[n];
        var types = new long[n];
        var mask = new long[n];
        var special = new long[n];
        var tokens = new string[n];
        var offsets = new (int, int)[n];
        var words = new int[n];
        int k = 0;
        void AddSpecial(int id, string token, int type)
        {
            ids[k] = id; types[k] = type; mask[k] = 1; special[k] = 1; tokens[k] = token; words[k] = -1;
            k++;
        }
        void AddSequence(List<Piece> pieces, (int Start, int End) w, int type)
        {
            for (int i = w.Start; i < w.End; i++)
            {
                Piece p = pieces[i];
                ids[k] = p.Id; types[k] = type; mask[k] = 1; tokens[k] = p.Token; offsets[k] = (p.Start, p.End); words[k] = p.Word;
                k++;
            }
        }
        if (addSpecialTokens) AddSpecial(ClsTokenId, Options.ClsToken, 0);
        int start0 = k;
        AddSequence(first, w1, 0);
        int end0 = k;
        if (addSpecialTokens) AddSpecial(SepTokenId, Options.SepToken, 0);
        int start1 = -1, end1 = -1;
        if (second is not null)
        {
            start1 = k;
            AddSequence(second, w2, 1);
            end1 = k;
            if (addSpecialTokens) AddSpecial(SepTokenId, Options.SepToken, 1);
        }
        return new BertEncoding(ids, types, mask, special, tokens, offsets, words,
            new BertEncoding.SequenceRanges(start0, end0, start1, end1), overflowing);
    }

    /// <summary>
    /// <c>tokenizers</c>' truncate_encodings (right side): the length each sequence is truncated to
    /// (<see cref="int.MaxValue"/>: untouched). <paramref name="budget"/> excludes the special tokens.
    /// </summary>
    private static (int First, int Second) TruncatedLengths(int n1, int? n2OrNull, int budget, TruncationStrategy strategy)
    {
        int total = n1 + (n2OrNull ?? 0);
        if (budget == 0) return (0, 0);   // tokenizers empties both sequences whatever the strategy (no "too short" error)
        if (total <= budget) return (int.MaxValue, int.MaxValue);
        int toRemove = total - budget;
        if (strategy == TruncationStrategy.LongestFirst)
        {
            if (n2OrNull is not int n2) return (budget, int.MaxValue);
            // For lengths a <= b: the shorter keeps a when the longer can have the rest (>= a); otherwise each
            // gets half and the longer (the second on a tie) the odd one.
            int a = n1, b = n2;
            bool swap = a > b;
            if (swap) (a, b) = (b, a);
            b = a > budget ? a : Math.Max(a, budget - a);
            if (a + b > budget)
            {
                a = budget / 2;
                b = a + budget % 2;
            }
            if (swap) (a, b) = (b, a);
            return (a, b);
        }
        if (strategy == TruncationStrategy.OnlySecond && n2OrNull is null)
            throw new TokenizerException("truncation OnlySecond needs a second sequence (text pair), none was given");
        int target = strategy == TruncationStrategy.OnlyFirst ? n1 : n2OrNull!.Value;
        if (target <= toRemove)
        {
            string which = strategy == TruncationStrategy.OnlyFirst ? "first" : "second";
            throw new TokenizerException(
                $"truncation {strategy}: the {which} sequence has {target} tokens but {toRemove} must be removed to fit; " +
                "use LongestFirst or a larger MaxLength");
        }
        return strategy == TruncationStrategy.OnlyFirst ? (target - toRemove, int.MaxValue) : (int.MaxValue, target - toRemove);
    }

    /// <summary>tokenizers' Encoding.truncate refuses a stride that leaves no room to advance (it panics).</summary>
    private static void CheckStride(int length, int maxLength, int stride, string which)
    {
        if (maxLength < length && maxLength > 0 && stride >= maxLength)
            throw new TokenizerException(
                $"Stride {stride} must be smaller than the {maxLength} tokens the {which} sequence is truncated to " +
                "(MaxLength minus the special tokens, shared with the other sequence); use a smaller Stride or a larger MaxLength");
    }

    /// <summary>
    /// tokenizers' Encoding.truncate (right side): windows [Start, End) of <paramref name="maxLength"/> tokens, each
    /// <c>maxLength − stride</c> after the previous, until one reaches the end; <paramref name="maxLength"/> 0 gives an
    /// empty row plus the whole sequence as the only overflow.
    /// </summary>
    private static List<(int Start, int End)> Windows(int length, int maxLength, int stride, string which)
    {
        if (maxLength >= length) return [(0, length)];
        if (maxLength == 0) return [(0, 0), (0, length)];
        CheckStride(length, maxLength, stride, which);
        var windows = new List<(int Start, int End)>();
        for (int start = 0; ; start += maxLength - stride)
        {
            int end = Math.Min(start + maxLength, length);
            windows.Add((start, end));
            if (end == length) return windows;
        }
    }

    /// <summary>tokenizers' Encoding.pad: the windows first, then the row (right side; never shortens).</summary>
    private BertEncoding PadWithOverflowing(BertEncoding row, int length)
    {
        IReadOnlyList<BertEncoding> overflowing = row.Overflowing;
        if (overflowing.Count > 0)
        {
            var padded = new BertEncoding[overflowing.Count];
            for (int i = 0; i < padded.Length; i++) padded[i] = Pad(overflowing[i], length, null);
            overflowing = padded;
        }
        return Pad(row, length, overflowing);
    }

    private BertEncoding Pad(BertEncoding row, int length, IReadOnlyList<BertEncoding>? overflowing)
    {
        if (row.Length >= length)
            return ReferenceEquals(overflowing, row.Overflowing) || overflowing is null ? row : WithOverflowing(row, overflowing);
        int n = row.Length;
        long[] Extend(long[] a, long fill)
        {
            var b = new long[length];
            a.CopyTo(b, 0);
            Array.Fill(b, fill, n, length - n);
            return b;
        }
        var tokens = new string[length];
        row.Tokens.CopyTo(tokens, 0);
        Array.Fill(tokens, Options.PadToken, n, length - n);
        var offsets = new (int, int)[length];
        row.Offsets.CopyTo(offsets, 0);
        var words = new int[length];
        if (row.Words is int[] w) w.CopyTo(words, 0);
        else Array.Fill(words, -1, 0, n);
        Array.Fill(words, -1, n, length - n);
        return new BertEncoding(Extend(row.InputIds, PadTokenId), Extend(row.TokenTypeIds, 0), Extend(row.AttentionMask, 0),
            Extend(row.SpecialTokensMask, 1), tokens, offsets, words, row.Ranges, overflowing);
    }

    private static BertEncoding WithOverflowing(BertEncoding row, IReadOnlyList<BertEncoding> overflowing) =>
        new(row.InputIds, row.TokenTypeIds, row.AttentionMask, row.SpecialTokensMask, row.Tokens, row.Offsets,
            row.Words, row.Ranges, overflowing);
}
