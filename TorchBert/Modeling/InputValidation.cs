using TorchBert.Configuration;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// Checks forward inputs before they reach libtorch, so a bad call gets a message naming the input instead of a
/// native trace. Shapes and dtypes are always checked; value ranges only for CPU tensors (on CUDA that would be a
/// device sync in every forward).
/// </summary>
public static class InputValidation
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the problem unless the inputs fit <paramref name="config"/> (shapes, dtypes, id ranges, lengths).</summary>
    public static void Check(BertConfig config, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds, Tensor? positionIds)
    {
        if (inputIds.dim() != 2)
            throw new ArgumentException($"input_ids must be 2-D (batch, sequence), got shape {Shape(inputIds)}", nameof(inputIds));
        if (!IsInteger(inputIds.dtype))
            throw new ArgumentException($"input_ids must be int64 (or int32), got {inputIds.dtype}", nameof(inputIds));
        long batch = inputIds.shape[0], length = inputIds.shape[1];
        if (batch < 1 || length < 1)
            throw new ArgumentException($"input_ids is empty (shape {Shape(inputIds)}); a sequence needs at least one token", nameof(inputIds));
        if (positionIds is null && length > config.MaxPositionEmbeddings)
            throw new ArgumentException(
                $"sequence length {length} exceeds max_position_embeddings ({config.MaxPositionEmbeddings}); truncate the input", nameof(inputIds));

        SameShape(attentionMask, "attention_mask", inputIds);
        SameShape(tokenTypeIds, "token_type_ids", inputIds);
        if (positionIds is not null && (positionIds.dim() != 2 || positionIds.shape[1] != length || (positionIds.shape[0] != batch && positionIds.shape[0] != 1)))
            throw new ArgumentException($"position_ids must have shape ({batch} or 1, {length}), got {Shape(positionIds)}", nameof(positionIds));
        foreach (var (t, name) in new[] { (tokenTypeIds, "token_type_ids"), (positionIds, "position_ids") })
            if (t is not null && !IsInteger(t.dtype))
                throw new ArgumentException($"{name} must be int64 (or int32), got {t.dtype}");

        InRange(inputIds, "input_ids", config.VocabSize, "vocab_size");
        InRange(tokenTypeIds, "token_type_ids", config.TypeVocabSize, "type_vocab_size");
        InRange(positionIds, "position_ids", config.MaxPositionEmbeddings, "max_position_embeddings");
    }

    private static void SameShape(Tensor? t, string name, Tensor inputIds)
    {
        if (t is not null && !t.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"{name} has shape {Shape(t)} but input_ids has shape {Shape(inputIds)}");
    }

    private static void InRange(Tensor? t, string name, long limit, string limitName)
    {
        if (t is null || t.device_type != TorchSharp.DeviceType.CPU || t.numel() == 0) return;
        using var scope = NewDisposeScope(); // frees min/max and the error path's temporaries
        if (!HostValues.TryMinMax(t, out var min, out var max)) // contiguous int64/int32: read in place, no tensor op
        {
            min = t.min().item<long>();
            max = t.max().item<long>();
        }
        if (min < 0 || max >= limit)
        {
            var bad = min < 0 ? min : max;
            var at = (t == bad).nonzero()[0];
            throw new ArgumentException(
                $"{name} contains {bad} at position ({at[0].item<long>()}, {at[1].item<long>()}); it must be in [0, {limit}) ({limitName})");
        }
    }

    private static bool IsInteger(ScalarType t) => t is ScalarType.Int64 or ScalarType.Int32;

    internal static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";
}
