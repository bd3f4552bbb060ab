using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary>
/// One model input row as the HF scripts' preprocessing produces it (unpadded): ids, optional mask and token types, and
/// the task's target — a class <see cref="Label"/>, per-token <see cref="Labels"/> (-100 = ignored), or answer
/// <see cref="StartPosition"/> / <see cref="EndPosition"/>. <see cref="Source"/> says where it came from ("file:line").
/// </summary>
public sealed record Feature
{
    /// <summary>Token ids.</summary>
    public required long[] InputIds { get; init; }
    /// <summary>1/0 attention mask (all ones when null).</summary>
    public long[]? AttentionMask { get; init; }
    /// <summary>Segment ids (all zeros when null).</summary>
    public long[]? TokenTypeIds { get; init; }
    /// <summary>1 on [CLS]/[SEP] (HF <c>special_tokens_mask</c>): never masked by the MLM collator.</summary>
    public long[]? SpecialTokensMask { get; init; }
    /// <summary>Class id (sequence classification).</summary>
    public long? Label { get; init; }
    /// <summary>Per-token labels, -100 = ignored (token classification, masked LM).</summary>
    public long[]? Labels { get; init; }
    /// <summary>Answer start token (question answering).</summary>
    public long? StartPosition { get; init; }
    /// <summary>Answer end token (question answering).</summary>
    public long? EndPosition { get; init; }
    /// <summary>Index of the example this feature was cut from (QA windows, token classification sentences).</summary>
    public int ExampleIndex { get; init; }
    /// <summary>QA: per token, its [start, end) in the context (UTF-16), null outside the context.</summary>
    public (int Start, int End)?[]? ContextOffsets { get; init; }
    /// <summary>Where the row came from ("file:line").</summary>
    public string Source { get; init; } = "";
}

/// <summary>
/// A collated batch on the training device: (B, T) <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>
/// padded to the longest row, and the targets present in the features. Owns its tensors.
/// </summary>
public sealed class TrainingBatch : IDisposable
{
    /// <summary>(B, T) token ids.</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>(B, T) attention mask.</summary>
    public required Tensor AttentionMask { get; init; }
    /// <summary>(B, T) token type ids.</summary>
    public required Tensor TokenTypeIds { get; init; }
    /// <summary>(B) class ids or (B, T) token labels (-100 = ignored).</summary>
    public Tensor? Labels { get; init; }
    /// <summary>(B) answer starts (question answering).</summary>
    public Tensor? StartPositions { get; init; }
    /// <summary>(B) answer ends (question answering).</summary>
    public Tensor? EndPositions { get; init; }
    /// <summary>The features collated into this batch.</summary>
    public required IReadOnlyList<Feature> Features { get; init; }
    /// <summary>Number of rows.</summary>
    public int Count => Features.Count;

    /// <summary>Disposes the batch's tensors.</summary>
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        TokenTypeIds.Dispose();
        Labels?.Dispose();
        StartPositions?.Dispose();
        EndPositions?.Dispose();
    }
}

/// <summary>
/// HF's collators: <c>DataCollatorWithPadding</c> (dynamic padding to the longest row), labels padded with -100 as
/// <c>DataCollatorForTokenClassification</c>, and <c>DataCollatorForLanguageModeling</c> masking.
/// </summary>
internal static class DataCollator
{
    /// <summary>Pads to the longest row: ids with <paramref name="padTokenId"/>, mask and token types with 0, token labels with -100.</summary>
    public static TrainingBatch Pad(IReadOnlyList<Feature> features, long padTokenId, Device device)
    {
        if (features.Count == 0) throw new ArgumentException("an empty batch");
        int b = features.Count, t = features.Max(f => f.InputIds.Length);
        var ids = new long[b * t];
        var mask = new long[b * t];
        var types = new long[b * t];
        Array.Fill(ids, padTokenId);
        bool tokenLabels = features[0].Labels is not null;
        bool classLabels = features[0].Label is not null;
        bool spans = features[0].StartPosition is not null;
        var labels = tokenLabels ? new long[b * t] : classLabels ? new long[b] : null;
        if (tokenLabels) Array.Fill(labels!, -100L);
        var starts = spans ? new long[b] : null;
        var ends = spans ? new long[b] : null;
        for (int r = 0; r < b; r++)
        {
            var f = features[r];
            int n = f.InputIds.Length;
            f.InputIds.CopyTo(ids, r * t);
            if (f.AttentionMask is { } m) m.CopyTo(mask, r * t); else Array.Fill(mask, 1L, r * t, n);
            f.TokenTypeIds?.CopyTo(types, r * t);
            if (tokenLabels) (f.Labels ?? throw new ArgumentException($"{f.Source}: no token labels")).CopyTo(labels!, r * t);
            else if (classLabels) labels![r] = f.Label ?? throw new ArgumentException($"{f.Source}: no label");
            if (spans)
            {
                starts![r] = f.StartPosition ?? throw new ArgumentException($"{f.Source}: no start position");
                ends![r] = f.EndPosition ?? throw new ArgumentException($"{f.Source}: no end position");
            }
        }
        long[] shape = [b, t];
        return new TrainingBatch
        {
            InputIds = tensor(ids, shape, device: device),
            AttentionMask = tensor(mask, shape, device: device),
            TokenTypeIds = tensor(types, shape, device: device),
            Labels = labels is null ? null : tokenLabels ? tensor(labels, shape, device: device) : tensor(labels, [b], device: device),
            StartPositions = starts is null ? null : tensor(starts, [b], device: device),
            EndPositions = ends is null ? null : tensor(ends, [b], device: device),
            Features = features,
        };
    }

    /// <summary>
    /// <c>DataCollatorForLanguageModeling.torch_mask_tokens</c>: each non-special, non-padding token is chosen with
    /// probability <paramref name="mlmProbability"/>; chosen tokens become the label (others -100) and are replaced by
    /// [MASK] 80 % of the time, a random token 10 %, kept 10 %. Draws from <paramref name="generator"/> in HF's order
    /// (bernoulli for the choice, bernoulli(0.8), bernoulli(0.5), randint(vocab)).
    /// </summary>
    public static TrainingBatch MaskTokens(IReadOnlyList<Feature> features, long padTokenId, long maskTokenId, long vocabSize,
        Generator generator, Device device, double mlmProbability = 0.15)
    {
        int b = features.Count, t = features.Max(f => f.InputIds.Length);
        var special = new bool[b * t];
        Array.Fill(special, true);               // padding counts as special (HF masks pad positions out too)
        for (int r = 0; r < b; r++)
        {
            var f = features[r];
            for (int i = 0; i < f.InputIds.Length; i++) special[r * t + i] = f.SpecialTokensMask is { } s && s[i] == 1;
        }
        using var padded = Pad(features.Select(f => f with { Labels = null, Label = null }).ToList(), padTokenId, CPU);
        using var scope = NewDisposeScope();
        var inputs = padded.InputIds.clone();
        var labels = inputs.clone();
        var probability = KeptScalars.With(mlmProbability, p => full([b, t], p, dtype: ScalarType.Float32));
        probability.masked_fill_(tensor(special, [b, t]), KeptScalars.Zero);
        var masked = bernoulli(probability, generator).to(ScalarType.Bool);
        KeptScalars.With(-100L, ignore => labels.masked_fill_(masked.logical_not(), ignore));
        var replaced = bernoulli(KeptScalars.With(0.8, p => full([b, t], p, dtype: ScalarType.Float32)), generator).to(ScalarType.Bool).logical_and(masked);
        KeptScalars.With(maskTokenId, id => inputs.masked_fill_(replaced, id));
        var random = bernoulli(KeptScalars.With(0.5, p => full([b, t], p, dtype: ScalarType.Float32)), generator).to(ScalarType.Bool)
            .logical_and(masked).logical_and(replaced.logical_not());
        var words = randint(vocabSize, [b, t], dtype: ScalarType.Int64, generator: generator);
        inputs = where(random, words, inputs);
        return new TrainingBatch
        {
            InputIds = inputs.to(device).DetachFromDisposeScope(),
            AttentionMask = padded.AttentionMask.to(device, copy: true).DetachFromDisposeScope(),
            TokenTypeIds = padded.TokenTypeIds.to(device, copy: true).DetachFromDisposeScope(),
            Labels = labels.to(device).DetachFromDisposeScope(),
            Features = features,
        };
    }
}
