using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>How <see cref="BertLMHeadModel.Generate"/> picks tokens (HF's <c>GenerationConfig</c> fields of the same names).</summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to add after the prompt (HF's <c>max_new_tokens</c>).</summary>
    public int MaxNewTokens { get; init; } = 20;
    /// <summary>false = greedy (argmax); true = sample from the (warped) softmax (HF's <c>do_sample</c>).</summary>
    public bool DoSample { get; init; }
    /// <summary>Sampling: keep the k most likely tokens; 0 = off (HF's default 50).</summary>
    public int TopK { get; init; } = 50;
    /// <summary>Sampling: keep the smallest set of most likely tokens whose probability reaches p; 1 = off.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Sampling: logits are divided by this before top-k / top-p.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Sampling: seed of the generator (same seed, same tokens); null = a fresh random seed.</summary>
    public ulong? Seed { get; init; }
    /// <summary>Stop a row when it produces this token; the batch stops when every row has (HF's <c>eos_token_id</c>).</summary>
    public long? EosTokenId { get; init; }
    /// <summary>Filler for rows that already stopped; null = the config's <c>pad_token_id</c>.</summary>
    public long? PadTokenId { get; init; }
}

public sealed partial class BertLMHeadModel
{
    /// <summary>
    /// Decodes up to <see cref="GenerationOptions.MaxNewTokens"/> tokens after <paramref name="inputIds"/> (B, T), as HF's
    /// <c>generate</c> (greedy, or sampling with temperature → top-k → top-p, HF's warper order): the prompt in one forward,
    /// then one token per step reusing the key/value cache (a model that is not a decoder re-runs the whole sequence).
    /// Runs under <c>inference_mode</c>, one dispose scope per step; frees every cache it made.
    /// </summary>
    /// <param name="attentionMask">(B, T) mask of the prompt (all ones when null); each new token is attended.</param>
    /// <param name="encoderHiddenStates">(B, S, H) for a model with cross-attention, with <paramref name="encoderAttentionMask"/> (B, S).</param>
    /// <returns>(B, T + n) int64: the prompt followed by the n ≤ max_new_tokens generated tokens.</returns>
    public Tensor Generate(Tensor inputIds, GenerationOptions? options = null, Tensor? attentionMask = null,
        Tensor? encoderHiddenStates = null, Tensor? encoderAttentionMask = null)
    {
        options ??= new GenerationOptions();
        CheckOptions(options, inputIds);
        using var mode = inference_mode();
        using var outer = NewDisposeScope();
        using var generator = options.DoSample ? new Generator(options.Seed ?? (ulong)Random.Shared.NextInt64(), inputIds.device) : null;
        var useCache = Config.IsDecoder;
        var pad = options.PadTokenId ?? Config.PadTokenId;
        var ids = inputIds.to(int64);                                                           // (B, T)
        var mask = attentionMask ?? ones_like(ids);                                             // (B, T)
        var unfinished = ones(ids.shape[0], dtype: ScalarType.Bool, device: ids.device);        // (B)
        var next = ids;
        BertCache? cache = null;
        try
        {
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                using var scope = NewDisposeScope();
                Tensor token;
                using (var o = forward(next, mask, encoderHiddenStates: encoderHiddenStates, encoderAttentionMask: encoderAttentionMask,
                           pastKeyValues: cache, useCache: useCache))
                {
                    var newCache = o.TakePastKeyValues();
                    cache?.Dispose();
                    cache = newCache;
                    var logits = o.Logits[.., -1, ..].to(float32);                               // (B, vocab)
                    token = options.DoSample ? Sample(logits, options, generator!) : logits.argmax(-1); // (B)
                }
                if (options.EosTokenId is { } eos)
                {
                    token = where(unfinished, token, KeptScalars.With(pad, p => full_like(token, p)));                     // finished rows get padding
                    unfinished = unfinished & KeptScalars.With(eos, token.ne);
                }
                ids = cat([ids, token.unsqueeze(1)], 1);                                        // (B, T + step + 1)
                mask = cat([mask, ones(mask.shape[0], 1, dtype: mask.dtype, device: mask.device)], 1);
                next = useCache ? token.unsqueeze(1) : ids;                                     // (B, 1): the cache holds the rest
                // Only what this step made moves out (moving the outer scope's own tensors would hand them to the caller's scope).
                var made = new List<Tensor> { ids, mask };
                if (useCache) made.Add(next);
                if (options.EosTokenId is not null) made.Add(unfinished);
                made.ForEach(t => t.MoveToOuterDisposeScope());
                if (options.EosTokenId is not null && !unfinished.any().item<bool>()) break;
            }
        }
        finally
        {
            cache?.Dispose();
        }
        return (ReferenceEquals(ids, inputIds) ? ids.clone() : ids).MoveToOuterDisposeScope();
    }

    /// <summary>One multinomial draw per row from the softmax of the warped logits (B, vocab) → (B).</summary>
    private static Tensor Sample(Tensor logits, GenerationOptions options, Generator generator) =>
        multinomial(nn.functional.softmax(WarpLogits(logits, options), -1), 1, generator: generator).squeeze(1);

    /// <summary>HF's TemperatureLogitsWarper → TopKLogitsWarper → TopPLogitsWarper: (B, vocab) logits with the removed tokens at -inf.</summary>
    internal static Tensor WarpLogits(Tensor logits, GenerationOptions options)
    {
        var scores = options.Temperature == 1.0 ? logits : logits.Over(options.Temperature);      // (B, vocab)
        var vocab = scores.shape[^1];
        if (options.TopK > 0 && options.TopK < vocab)
        {
            var kth = scores.topk(options.TopK).values[.., ^1..];                               // (B, 1): the k-th largest
            scores = KeptScalars.With(double.NegativeInfinity, inf => scores.masked_fill(scores.lt(kth), inf));
        }
        if (options.TopP < 1.0)
        {
            var (sorted, order) = scores.sort(-1, descending: false);                          // ascending, as HF
            var cumulative = sorted.softmax(-1).cumsum(-1);
            var remove = KeptScalars.With(1 - options.TopP, cumulative.le) & KeptScalars.With(vocab - 1, KeptScalars.Arange(0, vocab, scores.device).lt); // keep >= 1 token
            scores = KeptScalars.With(double.NegativeInfinity, inf => scores.masked_fill(remove.scatter(1, order, remove), inf));
        }
        return scores;
    }

    private void CheckOptions(GenerationOptions options, Tensor inputIds)
    {
        if (options.MaxNewTokens < 0) throw new ArgumentException($"max_new_tokens must be >= 0, got {options.MaxNewTokens}", nameof(options));
        if (options.TopK < 0) throw new ArgumentException($"top_k must be >= 0 (0 = off), got {options.TopK}", nameof(options));
        if (!(options.TopP > 0 && options.TopP <= 1)) throw new ArgumentException($"top_p must be in (0, 1], got {options.TopP}", nameof(options));
        if (!(options.Temperature > 0) || double.IsInfinity(options.Temperature))
            throw new ArgumentException($"temperature must be a positive number, got {options.Temperature}", nameof(options));
        if (inputIds.dim() == 2 && inputIds.shape[1] + options.MaxNewTokens > Config.MaxPositionEmbeddings)
            throw new ArgumentException($"prompt length {inputIds.shape[1]} + max_new_tokens {options.MaxNewTokens} exceeds " +
                                        $"max_position_embeddings ({Config.MaxPositionEmbeddings})", nameof(options));
    }
}
