using TorchBert.Modeling;
using TorchBert.Tokenization;
using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary>Text classification (HF run_glue): cross-entropy on <see cref="BertForSequenceClassification"/>; accuracy and macro-F1.</summary>
public sealed class SequenceClassificationTask(BertForSequenceClassification model, BertTokenizer? tokenizer) : TrainingTask(model, tokenizer)
{
    /// <inheritdoc/>
    public override Tensor ComputeLoss(TrainingBatch batch) =>
        model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, labels: batch.Labels).Loss
        ?? throw new InvalidOperationException("the model returned no loss: the batch has no labels");

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator(IReadOnlyList<Feature> features) => new Evaluator(model);

    /// <summary>The predicted class of each row of a batch (argmax of the logits).</summary>
    public long[] Predict(TrainingBatch batch) => model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).Logits.argmax(-1).cpu().data<long>().ToArray();

    private sealed class Evaluator(BertForSequenceClassification model) : TaskEvaluator
    {
        private readonly List<int> _true = [], _pred = [];

        protected override Tensor? Step(TrainingBatch batch)
        {
            var o = model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, labels: batch.Labels);
            _pred.AddRange(o.Logits.argmax(-1).cpu().data<long>().ToArray().Select(x => (int)x));
            _true.AddRange(batch.Labels!.cpu().data<long>().ToArray().Select(x => (int)x));
            return o.Loss;
        }

        protected override Dictionary<string, double> Metrics() => new()
        {
            ["accuracy"] = ClassificationMetrics.Accuracy(_true, _pred),
            ["f1"] = ClassificationMetrics.MacroF1(_true, _pred),
        };
    }
}

/// <summary>Token classification (HF run_ner): per-token cross-entropy (-100 ignored); seqeval precision/recall/F1/accuracy over words.</summary>
public sealed class TokenClassificationTask(BertForTokenClassification model, BertTokenizer? tokenizer) : TrainingTask(model, tokenizer)
{
    /// <inheritdoc/>
    public override Tensor ComputeLoss(TrainingBatch batch) =>
        model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, labels: batch.Labels).Loss
        ?? throw new InvalidOperationException("the model returned no loss: the batch has no labels");

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator(IReadOnlyList<Feature> features) => new Evaluator(model);

    private sealed class Evaluator(BertForTokenClassification model) : TaskEvaluator
    {
        private readonly List<IReadOnlyList<string>> _true = [], _pred = [];

        protected override Tensor? Step(TrainingBatch batch)
        {
            var o = model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, labels: batch.Labels);
            var t = (int)batch.InputIds.shape[1];
            var pred = o.Logits.argmax(-1).cpu().data<long>().ToArray();
            var labels = batch.Labels!.cpu().data<long>().ToArray();
            var names = model.Config.Id2Label;
            for (int r = 0; r < batch.Count; r++)
            {
                var tt = new List<string>();
                var pp = new List<string>();
                for (int i = 0; i < t; i++)
                {
                    if (labels[r * t + i] == -100) continue;    // run_ner: only the words' first sub-tokens
                    tt.Add(names[(int)labels[r * t + i]]);
                    pp.Add(names[(int)pred[r * t + i]]);
                }
                _true.Add(tt);
                _pred.Add(pp);
            }
            return o.Loss;
        }

        protected override Dictionary<string, double> Metrics()
        {
            var (p, r, f1, acc) = SeqEval.Score(_true, _pred);
            return new() { ["precision"] = p, ["recall"] = r, ["f1"] = f1, ["accuracy"] = acc };
        }
    }
}

/// <summary>
/// Extractive QA (HF run_qa): (CE(start) + CE(end)) / 2; evaluation as <c>postprocess_qa_predictions</c> (n-best 20 start and
/// end logits per window, spans inside the context, end ≥ start, at most 30 tokens, best start + end logit over the
/// windows of an example) scored by the SQuAD v1.1 script (exact_match, f1).
/// </summary>
public sealed class QuestionAnsweringTask(BertForQuestionAnswering model, BertTokenizer? tokenizer, IReadOnlyList<SquadExample> evalExamples)
    : TrainingTask(model, tokenizer)
{
    private readonly BertForQuestionAnswering _model = model;
    private readonly IReadOnlyList<SquadExample> _examples = evalExamples;

    /// <summary>The examples the evaluation features were cut from (their contexts and answers).</summary>
    public IReadOnlyList<SquadExample> EvalExamples => _examples;
    /// <summary>Candidate starts/ends considered per window (HF's <c>n_best_size</c>).</summary>
    public int NBestSize { get; init; } = 20;
    /// <summary>Longest answer considered, in tokens (HF's <c>max_answer_length</c>).</summary>
    public int MaxAnswerLength { get; init; } = 30;

    /// <inheritdoc/>
    public override Tensor ComputeLoss(TrainingBatch batch) =>
        _model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, startPositions: batch.StartPositions, endPositions: batch.EndPositions).Loss
        ?? throw new InvalidOperationException("the model returned no loss: the batch has no answer positions");

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator(IReadOnlyList<Feature> features) => new Evaluator(this);

    private sealed class Evaluator(QuestionAnsweringTask task) : TaskEvaluator
    {
        private readonly Dictionary<int, (double Score, string Text)> _best = [];

        protected override Tensor? Step(TrainingBatch batch)
        {
            var o = task._model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds,
                startPositions: batch.StartPositions, endPositions: batch.EndPositions);
            var t = (int)batch.InputIds.shape[1];
            var starts = o.StartLogits.to(ScalarType.Float32).cpu().data<float>().ToArray();
            var ends = o.EndLogits.to(ScalarType.Float32).cpu().data<float>().ToArray();
            for (int r = 0; r < batch.Count; r++)
            {
                var f = batch.Features[r];
                var offsets = f.ContextOffsets!;
                var context = task._examples[f.ExampleIndex].Context;
                var s = starts.AsSpan(r * t, f.InputIds.Length).ToArray();
                var e = ends.AsSpan(r * t, f.InputIds.Length).ToArray();
                var topS = Enumerable.Range(0, s.Length).OrderByDescending(i => s[i]).Take(task.NBestSize).ToList();
                var topE = Enumerable.Range(0, e.Length).OrderByDescending(i => e[i]).Take(task.NBestSize).ToList();
                foreach (var si in topS)
                    foreach (var ei in topE)
                    {
                        if (offsets[si] is not { } so || offsets[ei] is not { } eo || ei < si || ei - si + 1 > task.MaxAnswerLength) continue;
                        double score = s[si] + e[ei];
                        if (!_best.TryGetValue(f.ExampleIndex, out var b) || score > b.Score)
                            _best[f.ExampleIndex] = (score, context[so.Start..eo.End]);
                    }
            }
            return o.Loss;
        }

        protected override Dictionary<string, double> Metrics()
        {
            var indices = _best.Keys.Order().ToList();
            var examples = task._examples;
            var predictions = Enumerable.Range(0, examples.Count).Select(i => _best.TryGetValue(i, out var b) ? b.Text : "").ToList();
            var truths = examples.Select(x => (IReadOnlyList<string>)x.Answers.Select(a => a.Text).ToList()).ToList();
            var (em, f1) = SquadMetrics.Score(predictions, truths);
            return new() { ["exact_match"] = em, ["f1"] = f1 };
        }
    }
}

/// <summary>Masked-LM training (HF run_mlm): the MLM collator's masking, cross-entropy on the masked positions; perplexity.</summary>
public sealed class MaskedLMTask(BertForMaskedLM model, BertTokenizer tokenizer, double mlmProbability = 0.15) : TrainingTask(model, tokenizer)
{
    /// <inheritdoc/>
    public override TrainingBatch Collate(IReadOnlyList<Feature> features, Generator generator) =>
        DataCollator.MaskTokens(features, Tokenizer!.PadTokenId, Tokenizer.MaskTokenId, model.Config.VocabSize, generator, model.Device, mlmProbability);

    /// <inheritdoc/>
    public override Tensor ComputeLoss(TrainingBatch batch) =>
        model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, labels: batch.Labels).Loss
        ?? throw new InvalidOperationException("the model returned no loss");

    /// <inheritdoc/>
    public override TaskEvaluator CreateEvaluator(IReadOnlyList<Feature> features) => new Evaluator(model);

    private sealed class Evaluator(BertForMaskedLM model) : TaskEvaluator
    {
        protected override Tensor? Step(TrainingBatch batch) =>
            model.forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, labels: batch.Labels).Loss;

        protected override Dictionary<string, double> Metrics() => new() { ["perplexity"] = Math.Exp(MeanLoss) };
    }
}
