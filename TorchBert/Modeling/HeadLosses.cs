using TorchBert.Configuration;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// The losses of HF's BERT heads (modeling_bert.py, transformers 4.4x), and the label checks that run before them so a
/// bad label is an <see cref="ArgumentException"/> naming the input, never a native trace (or a CUDA device assert).
/// </summary>
internal static class HeadLosses
{
    /// <summary>HF <c>CrossEntropyLoss()</c>'s default: labels equal to -100 do not count.</summary>
    public const long IgnoreIndex = -100;

    /// <summary>HF <c>CrossEntropyLoss()(logits.view(-1, n), labels.view(-1))</c>: mean over labels that are not -100.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels, long ignoreIndex = IgnoreIndex)
    {
        var n = logits.shape[^1];
        return nn.functional.cross_entropy(logits.reshape(-1, n), labels.reshape(-1).to(int64), ignore_index: ignoreIndex);
    }

    /// <summary>
    /// HF <c>BertForSequenceClassification</c>'s rule: <c>config.problem_type</c>, else regression when num_labels == 1,
    /// single-label when the labels are integers, multi-label otherwise.
    /// </summary>
    public static string ProblemType(BertConfig config, Tensor labels) =>
        config.ProblemType ?? (config.NumLabels == 1 ? "regression"
            : IsInteger(labels.dtype) ? "single_label_classification" : "multi_label_classification");

    /// <summary>The sequence-classification loss for <paramref name="problemType"/> (labels already checked).</summary>
    public static Tensor SequenceClassification(string problemType, Tensor logits, Tensor labels, int numLabels) => problemType switch
    {
        // HF: MSELoss()(logits.squeeze(), labels.squeeze()) for one label, else MSELoss()(logits, labels).
        "regression" => numLabels == 1
            ? nn.functional.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
            : nn.functional.mse_loss(logits, labels.to(logits.dtype)),
        "single_label_classification" => CrossEntropy(logits, labels),
        _ => nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype)),
    };

    /// <summary>Checks sequence-classification labels for <paramref name="problemType"/>: shape, dtype and class range.</summary>
    public static void CheckSequenceLabels(string problemType, Tensor labels, long batch, int numLabels)
    {
        switch (problemType)
        {
            case "single_label_classification":
                ClassIndices(labels, "labels", [[batch], [batch, 1]], numLabels, "num_labels");
                break;
            case "regression":
                FloatShape(labels, "labels", numLabels == 1 ? [[batch], [batch, 1]] : [[batch, numLabels]], "regression");
                break;
            default:
                FloatShape(labels, "labels", [[batch, numLabels]], "multi_label_classification (0/1 per label)");
                break;
        }
    }

    /// <summary>
    /// Integer class labels of one of <paramref name="shapes"/>, each in [0, <paramref name="classes"/>) or -100 (ignored).
    /// </summary>
    public static void ClassIndices(Tensor labels, string name, long[][] shapes, long classes, string classesName, bool allowIgnore = true)
    {
        if (!IsInteger(labels.dtype))
            throw new ArgumentException($"{name} must be integer class indices (int64 or int32), got {labels.dtype}", name);
        CheckShape(labels, name, shapes);
        if (labels.numel() == 0) return;
        using var scope = NewDisposeScope();
        var valid = (labels >= 0) & (labels < classes);
        if (allowIgnore) valid = valid | (labels == IgnoreIndex);
        if (valid.all().item<bool>()) return;
        var at = (~valid).nonzero()[0];
        var index = string.Join(", ", at.data<long>().ToArray());
        var value = labels[at.data<long>().Select(i => TensorIndex.Single(i)).ToArray()].item<long>();
        throw new ArgumentException(
            $"{name} contains {value} at ({index}); it must be in [0, {classes}) ({classesName}){(allowIgnore ? " or -100 (ignored)" : "")}", name);
    }

    /// <summary>Floating-point targets of one of <paramref name="shapes"/>.</summary>
    public static void FloatShape(Tensor labels, string name, long[][] shapes, string what)
    {
        if (!labels.is_floating_point())
            throw new ArgumentException($"{name} must be floating-point for {what}, got {labels.dtype}", name);
        CheckShape(labels, name, shapes);
    }

    /// <summary>
    /// HF <c>BertForQuestionAnswering</c>: positions (B) or (B, 1), integer. Positions past the sequence are clamped to
    /// T and ignored, as HF does; a negative position is refused (HF would silently clamp it to token 0).
    /// </summary>
    public static void CheckPositions(Tensor positions, string name, long batch)
    {
        if (!IsInteger(positions.dtype))
            throw new ArgumentException($"{name} must be integer token positions (int64 or int32), got {positions.dtype}", name);
        CheckShape(positions, name, [[batch], [batch, 1]]);
        using var scope = NewDisposeScope();
        var negative = positions < 0;
        if (!negative.any().item<bool>()) return;
        var row = negative.reshape(-1).nonzero()[0].item<long>();
        throw new ArgumentException(
            $"{name} contains {positions.reshape(-1)[row].item<long>()} at row {row}; a position must be >= 0 " +
            "(positions >= the sequence length are ignored, as in HF)", name);
    }

    /// <summary>HF's QA loss: positions clamped to [0, T], T ignored, (CE(start) + CE(end)) / 2.</summary>
    public static Tensor QuestionAnswering(Tensor startLogits, Tensor endLogits, Tensor startPositions, Tensor endPositions)
    {
        var ignored = startLogits.shape[1];                                          // T
        var start = KeptScalars.With(ignored, t => startPositions.reshape(-1).to(int64).clamp(KeptScalars.Zero, t));
        var end = KeptScalars.With(ignored, t => endPositions.reshape(-1).to(int64).clamp(KeptScalars.Zero, t));
        return CrossEntropy(startLogits, start, ignored).Plus(CrossEntropy(endLogits, end, ignored)).Over(2);
    }

    private static void CheckShape(Tensor t, string name, long[][] shapes)
    {
        if (shapes.Any(s => t.shape.SequenceEqual(s))) return;
        throw new ArgumentException(
            $"{name} has shape {InputValidation.Shape(t)}; expected {string.Join(" or ", shapes.Select(s => $"[{string.Join(", ", s)}]"))}", name);
    }

    private static bool IsInteger(ScalarType t) => t is ScalarType.Int64 or ScalarType.Int32;
}
