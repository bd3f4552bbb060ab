namespace TorchBert.Tokenization;

public sealed partial class BertTokenizer
{
    /// <summary>
    /// HF <c>tokenizer(text, text_pair, ...)</c> for one input: <c>[CLS] A [SEP]</c> or <c>[CLS] A [SEP] B [SEP]</c>
    /// (token type 1 from B on), truncated and padded as <paramref name="options"/> say.
    /// </summary>
    /// <exception cref="TokenizerException">The requested truncation cannot be done (as HF raises).</exception>
    /// <exception cref="ArgumentException">Invalid option values (max_length below what special tokens need, ...).</exception>
    public Encoding Encode(string text, string? textPair = null, EncodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var plan = Plan.From(options ?? EncodeOptions.Default, this, hasPair: textPair is not null);
        Encoding row = EncodeUnpadded(text, textPair, plan);
        int? target = plan.Padding switch
        {
            PaddingStrategy.Longest => row.Length,
            PaddingStrategy.MaxLength => plan.MaxLength,
            _ => null,
        };
        return target is int t ? Pad(row, plan.RoundUp(t)) : row;
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
        var rows = new Encoding[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            rows[i] = EncodeUnpadded(texts[i] ?? throw new ArgumentException($"texts[{i}] is null", nameof(texts)),
                pairs is null ? null : pairs[i] ?? throw new ArgumentException($"pairs[{i}] is null", nameof(pairs)), plan);
        }
        int? target = plan.Padding switch
        {
            PaddingStrategy.Longest => rows.Length == 0 ? 0 : rows.Max(r => r.Length),
            PaddingStrategy.MaxLength => plan.MaxLength,
            _ => null,
        };
        if (target is int t)
        {
            int length = plan.RoundUp(t);
            for (int i = 0; i < rows.Length; i++) rows[i] = Pad(rows[i], length);
        }
        return new BatchEncoding(rows);
    }

    /// <summary>Resolved options: HF's defaults for missing max_length / truncation applied and checked.</summary>
    private readonly record struct Plan(bool AddSpecialTokens, PaddingStrategy Padding, TruncationStrategy Truncation,
        int MaxLength, int? PadToMultipleOf)
    {
        public static Plan From(EncodeOptions o, BertTokenizer tokenizer, bool hasPair)
        {
            if (o.MaxLength is < 0)
                throw new ArgumentException($"MaxLength must be >= 0, got {o.MaxLength}", nameof(o.MaxLength));
            if (o.PadToMultipleOf is <= 0)
                throw new ArgumentException($"PadToMultipleOf must be > 0, got {o.PadToMultipleOf}", nameof(o.PadToMultipleOf));
            // HF: max_length without padding and without an explicit truncation means "longest_first".
            TruncationStrategy truncation = o.Truncation
                ?? (o.MaxLength is not null && o.Padding == PaddingStrategy.None ? TruncationStrategy.LongestFirst : TruncationStrategy.None);
            int maxLength = o.MaxLength ?? tokenizer.ModelMaxLength;
            int specials = o.AddSpecialTokens ? (hasPair ? 3 : 2) : 0;
            if (truncation != TruncationStrategy.None && maxLength < specials)
                throw new ArgumentException(
                    $"MaxLength {maxLength} is smaller than the {specials} special tokens a {(hasPair ? "pair" : "single sequence")} needs",
                    nameof(o.MaxLength));
            return new Plan(o.AddSpecialTokens, o.Padding, truncation, maxLength, o.PadToMultipleOf);
        }

        public int RoundUp(int length) =>
            PadToMultipleOf is int m && length % m != 0 ? (length / m + 1) * m : length;
    }

    private Encoding EncodeUnpadded(string text, string? pair, Plan plan)
    {
        // When truncating, tokenizers stops tokenizing a sequence after the word that reaches max_length tokens
        // (the first sequence only when it may be truncated), then fits both into the budget left by the special
        // tokens. That early stop decides which sequence LongestFirst sees as longer, and whether a pair
        // already fits, so it is reproduced.
        bool truncating = plan.Truncation != TruncationStrategy.None;
        int firstCap = truncating && plan.Truncation != TruncationStrategy.OnlySecond ? plan.MaxLength : int.MaxValue;
        List<Piece> first = TokenizeSequence(text, firstCap);
        List<Piece>? second = pair is null ? null : TokenizeSequence(pair, truncating ? plan.MaxLength : int.MaxValue);
        if (plan.Truncation != TruncationStrategy.None)
        {
            int budget = plan.MaxLength - (plan.AddSpecialTokens ? (second is null ? 2 : 3) : 0);
            Truncate(first, second, budget, plan.Truncation);
        }
        int n = first.Count + (second?.Count ?? 0) + (plan.AddSpecialTokens ? (second is null ? 2 : 3) : 0);
        var ids = new long[n];
        var types = new long[n];
        var mask = new long[n];
        var special = new long[n];
        var tokens = new string[n];
        var offsets = new (int, int)[n];
        int k = 0;
        void Add(int id, string token, int type, bool isSpecial, (int, int) offset)
        {
            ids[k] = id; types[k] = type; mask[k] = 1; special[k] = isSpecial ? 1 : 0; tokens[k] = token; offsets[k] = offset;
            k++;
        }
        void AddSequence(List<Piece> pieces, int type)
        {
            foreach (Piece p in pieces) Add(p.Id, p.Token, type, false, (p.Start, p.End));
        }
        if (plan.AddSpecialTokens) Add(ClsTokenId, Options.ClsToken, 0, true, (0, 0));
        AddSequence(first, 0);
        if (plan.AddSpecialTokens) Add(SepTokenId, Options.SepToken, 0, true, (0, 0));
        if (second is not null)
        {
            AddSequence(second, 1);
            if (plan.AddSpecialTokens) Add(SepTokenId, Options.SepToken, 1, true, (0, 0));
        }
        return new Encoding(ids, types, mask, special, tokens, offsets);
    }

    /// <summary>
    /// <c>tokenizers</c>' truncate_encodings (right side, no stride). <paramref name="budget"/> excludes the
    /// special tokens.
    /// </summary>
    private static void Truncate(List<Piece> first, List<Piece>? second, int budget, TruncationStrategy strategy)
    {
        int total = first.Count + (second?.Count ?? 0);
        if (total <= budget) return;
        if (budget == 0)
        {
            // tokenizers empties both sequences whatever the strategy (no "too short" error here).
            first.Clear();
            second?.Clear();
            return;
        }
        int toRemove = total - budget;
        if (strategy == TruncationStrategy.LongestFirst)
        {
            if (second is null)
            {
                Keep(first, budget);
                return;
            }
            // For lengths a <= b: the shorter keeps a when the longer can have the rest (>= a); otherwise each
            // gets half and the longer (the second on a tie) the odd one.
            int n1 = first.Count, n2 = second.Count;
            bool swap = n1 > n2;
            if (swap) (n1, n2) = (n2, n1);
            n2 = n1 > budget ? n1 : Math.Max(n1, budget - n1);
            if (n1 + n2 > budget)
            {
                n1 = budget / 2;
                n2 = n1 + budget % 2;
            }
            if (swap) (n1, n2) = (n2, n1);
            Keep(first, n1);
            Keep(second, n2);
            return;
        }
        List<Piece> target = strategy == TruncationStrategy.OnlyFirst
            ? first
            : second ?? throw new TokenizerException("truncation OnlySecond needs a second sequence (text pair), none was given");
        if (target.Count <= toRemove)
        {
            string which = strategy == TruncationStrategy.OnlyFirst ? "first" : "second";
            throw new TokenizerException(
                $"truncation {strategy}: the {which} sequence has {target.Count} tokens but {toRemove} must be removed to fit; " +
                "use LongestFirst or a larger MaxLength");
        }
        Keep(target, target.Count - toRemove);
    }

    private static void Keep(List<Piece> pieces, int count)
    {
        if (pieces.Count > count) pieces.RemoveRange(count, pieces.Count - count);
    }

    private Encoding Pad(Encoding row, int length)
    {
        if (row.Length >= length) return row;
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
        return new Encoding(Extend(row.InputIds, PadTokenId), Extend(row.TokenTypeIds, 0), Extend(row.AttentionMask, 0),
            Extend(row.SpecialTokensMask, 1), tokens, offsets);
    }
}
