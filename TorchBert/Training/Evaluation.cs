using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary>HF <c>evaluation_loop</c>: batches in order, eval mode, inference mode, one dispose scope per batch.</summary>
public static class Evaluation
{
    /// <summary>Runs <paramref name="task"/>'s evaluator over <paramref name="features"/>; metrics carry the <c>eval_</c> prefix.</summary>
    public static Dictionary<string, double> Run(TrainingTask task, IReadOnlyList<Feature> features, int batchSize, int seed = 42)
    {
        var model = task.Model;
        var wasTraining = model.training;
        model.eval();
        try
        {
            var evaluator = task.CreateEvaluator(features);
            using (inference_mode())
            {
                for (int start = 0, b = 0; start < features.Count; start += batchSize, b++)
                {
                    using var scope = NewDisposeScope();
                    var slice = features.Skip(start).Take(batchSize).ToList();
                    using var generator = new Generator((ulong)(seed + b));
                    using var batch = task.Collate(slice, generator);
                    evaluator.Add(batch);
                }
            }
            return evaluator.Compute().ToDictionary(kv => "eval_" + kv.Key, kv => kv.Value);
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
