using System.CommandLine;
using System.Diagnostics;
using TorchBert.Training;

namespace TorchBert.Cli;

/// <summary><c>torchbert train</c> and <c>torchbert evaluate</c>: parse, call <see cref="FineTuning"/>, print.</summary>
internal static class TrainingCommands
{
    private static Option<T> Opt<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };

    public static Command Train()
    {
        var d = new TrainingArguments { OutputDir = "." };
        var task = new Option<string>("--task") { Description = "text-classification | token-classification | question-answering | fill-mask", Required = true };
        var model = new Option<string?>("--model") { Description = "start from this model folder; default: the embedded all-MiniLM-L6-v2" };
        var config = new Option<string?>("--config") { Description = "build the model from this config.json with random weights (HF from_config); the tokenizer comes from --model" };
        var train = new Option<string>("--train") { Description = "training data (CSV/TSV/JSONL, CoNLL, SQuAD JSON or plain text, by task)", Required = true };
        var eval = new Option<string?>("--eval") { Description = "evaluation data, same format" };
        var output = new Option<string>("--output") { Description = "output folder: checkpoints, training_log.jsonl, the final model", Required = true };
        var lr = Opt("--learning-rate", "AdamW learning rate", d.LearningRate);
        var epochs = Opt("--num-train-epochs", "epochs", d.NumTrainEpochs);
        var maxSteps = Opt("--max-steps", "total optimizer steps (overrides epochs when > 0)", d.MaxSteps);
        var bs = Opt("--per-device-train-batch-size", "training batch size", d.PerDeviceTrainBatchSize);
        var ebs = Opt("--per-device-eval-batch-size", "evaluation batch size", d.PerDeviceEvalBatchSize);
        var accum = Opt("--gradient-accumulation-steps", "batches per optimizer step", d.GradientAccumulationSteps);
        var wd = Opt("--weight-decay", "AdamW weight decay (not on biases and LayerNorm)", d.WeightDecay);
        var b1 = Opt("--adam-beta1", "AdamW beta1", d.AdamBeta1);
        var b2 = Opt("--adam-beta2", "AdamW beta2", d.AdamBeta2);
        var eps = Opt("--adam-epsilon", "AdamW epsilon", d.AdamEpsilon);
        var clip = Opt("--max-grad-norm", "clip the total gradient norm (0: no clipping)", d.MaxGradNorm);
        var warmup = Opt("--warmup-steps", "linear warmup steps", d.WarmupSteps);
        var warmupRatio = Opt("--warmup-ratio", "warmup as a fraction of the total steps", d.WarmupRatio);
        var sched = Opt("--lr-scheduler-type", "linear | cosine | constant | constant_with_warmup", "linear");
        var seed = Opt("--seed", "random seed (head init, shuffling, dropout, masking)", d.Seed);
        var evalStrategy = Opt("--eval-strategy", "no | steps | epoch (default: epoch with --eval, else no)", (string?)null);
        var evalSteps = Opt("--eval-steps", "evaluate every N steps (eval-strategy steps; default: logging steps)", (int?)null);
        var saveStrategy = Opt("--save-strategy", "no | steps | epoch", "steps");
        var saveSteps = Opt("--save-steps", "checkpoint every N steps", d.SaveSteps);
        var limit = Opt("--save-total-limit", "keep at most N checkpoints (the best one is kept)", (int?)null);
        var best = Opt("--load-best-model-at-end", "end with the best checkpoint's weights", false);
        var metric = Opt("--metric-for-best-model", "e.g. accuracy, f1, loss (default loss)", (string?)null);
        var logSteps = Opt("--logging-steps", "log the mean loss every N steps", d.LoggingSteps);
        var maxLen = Opt("--max-seq-length", "tokens per sequence", d.MaxSeqLength);
        var stride = Opt("--doc-stride", "question answering: overlap of context windows", 128);
        var resume = Opt("--resume-from-checkpoint", "a checkpoint folder, or 'latest' in --output", (string?)null);
        var bf16 = Opt("--bf16", "bf16 autocast (not available with TorchSharp 0.107)", false);
        var fp16 = Opt("--fp16", "fp16 autocast (not available with TorchSharp 0.107)", false);
        var quiet = Opt("--quiet", "no progress bar", false);
        var cmd = new Command("train", "fine-tune a model (HF Trainer): checkpoints, training_log.jsonl and the final model in --output")
        {
            task, model, config, train, eval, output, lr, epochs, maxSteps, bs, ebs, accum, wd, b1, b2, eps, clip, warmup, warmupRatio, sched, seed,
            evalStrategy, evalSteps, saveStrategy, saveSteps, limit, best, metric, logSteps, maxLen, stride, resume, bf16, fp16, quiet,
        };
        cmd.SetAction((p, _) => Cli.Run(ct =>
        {
            var evalFile = p.GetValue(eval);
            var args = new TrainingArguments
            {
                OutputDir = p.GetValue(output)!,
                LearningRate = p.GetValue(lr), NumTrainEpochs = p.GetValue(epochs), MaxSteps = p.GetValue(maxSteps),
                PerDeviceTrainBatchSize = p.GetValue(bs), PerDeviceEvalBatchSize = p.GetValue(ebs), GradientAccumulationSteps = p.GetValue(accum),
                WeightDecay = p.GetValue(wd), AdamBeta1 = p.GetValue(b1), AdamBeta2 = p.GetValue(b2), AdamEpsilon = p.GetValue(eps),
                MaxGradNorm = p.GetValue(clip), WarmupSteps = p.GetValue(warmup), WarmupRatio = p.GetValue(warmupRatio),
                LrSchedulerType = TrainingArguments.ParseScheduler(p.GetValue(sched)!), Seed = p.GetValue(seed),
                EvalStrategy = p.GetValue(evalStrategy) is { } es ? TrainingArguments.ParseStrategy(es, "--eval-strategy")
                    : evalFile is null ? IntervalStrategy.No : IntervalStrategy.Epoch,
                EvalSteps = p.GetValue(evalSteps),
                SaveStrategy = TrainingArguments.ParseStrategy(p.GetValue(saveStrategy)!, "--save-strategy"), SaveSteps = p.GetValue(saveSteps),
                SaveTotalLimit = p.GetValue(limit), LoadBestModelAtEnd = p.GetValue(best), MetricForBestModel = p.GetValue(metric),
                LoggingSteps = p.GetValue(logSteps), MaxSeqLength = p.GetValue(maxLen), Bf16 = p.GetValue(bf16), Fp16 = p.GetValue(fp16),
            };
            var options = new FineTuneOptions
            {
                TaskKind = FineTuning.ParseTask(p.GetValue(task)!), Model = Cli.ModelOrDefault(p.GetValue(model)),
                ConfigFile = p.GetValue(config), TrainFile = p.GetValue(train)!, EvalFile = evalFile, DocStride = p.GetValue(stride),
            };
            Cli.CheckOutputFolder(args.OutputDir, "--output");
            using var run = FineTuning.Prepare(options, args);
            var trainer = run.Trainer;
            Console.Error.WriteLine($"torchbert: {FineTuning.TaskName(options.TaskKind)}: {run.Model.GetType().Name} from {options.Model} on {run.Model.Device.type.ToString().ToLowerInvariant()}, " +
                                    $"{trainer.TrainFeatures.Count} training rows{(trainer.EvalFeatures is { } ev ? $", {ev.Count} eval rows" : "")}" +
                                    (run.Labels is { } l ? $", {l.Count} labels" : "") + $", {trainer.TotalSteps} steps");
            var bar = new ProgressBar(p.GetValue(quiet));
            trainer.Progress += bar.Update;
            trainer.Logged += e => { if (e.ContainsKey("eval_loss") || e.ContainsKey("train_runtime")) ProgressLine.Print(e.ToJsonString()); };
            trainer.Message += m => ProgressLine.Print(m);
            TrainOutput result;
            try
            {
                result = trainer.Train(p.GetValue(resume), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Checkpoints are written whole (temp folder, then renamed): what is on disk is complete.
                var last = Trainer.LatestCheckpoint(args.OutputDir);
                throw new InterruptedException($"training stopped at step {trainer.GlobalStep} of {trainer.TotalSteps}; " +
                    (last is null ? $"no checkpoint was written yet (nothing saved in {args.OutputDir} but training_log.jsonl)"
                                  : $"the last complete checkpoint is {Path.GetFullPath(last)} (continue with --resume-from-checkpoint latest)"));
            }
            ProgressLine.End();
            var saved = run.Tokenizer is null ? "the final model (no tokenizer: the model had none and the data was pre-tokenized)" : "the final model and tokenizer";
            Console.WriteLine($"saved {saved} to {Path.GetFullPath(args.OutputDir)} (step {result.GlobalStep}, train_loss {result.TrainingLoss:F4})");
            return 0;
        }));
        return cmd;
    }

    public static Command Evaluate()
    {
        var model = new Option<string>("--model") { Description = "a fine-tuned model folder", Required = true };
        var data = new Option<string>("--data") { Description = "evaluation data (the format of its task)", Required = true };
        var task = new Option<string?>("--task") { Description = "default: from config.json's architectures" };
        var batch = Opt("--batch-size", "evaluation batch size", 8);
        var maxLen = Opt("--max-seq-length", "tokens per sequence", 128);
        var json = new Option<bool>("--json") { Description = "print JSON" };
        var cmd = new Command("evaluate", "metrics of a fine-tuned model on a data file (HF trainer.evaluate)") { model, data, task, batch, maxLen, json };
        cmd.SetAction((p, _) => Cli.Run(() =>
        {
            var metrics = FineTuning.Evaluate(p.GetValue(model)!, p.GetValue(data)!, p.GetValue(task) is { } t ? FineTuning.ParseTask(t) : null,
                p.GetValue(batch), p.GetValue(maxLen));
            if (p.GetValue(json)) { Cli.WriteJson(metrics); return 0; }
            foreach (var (k, v) in metrics) Console.WriteLine($"{k,-24} {v:G6}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>One stderr line redrawn in place: step, bar, loss, lr, steps/s, ETA.</summary>
    private sealed class ProgressBar(bool quiet)
    {
        private readonly Stopwatch _last = Stopwatch.StartNew();

        public void Update(TrainerProgress p)
        {
            if (quiet || (_last.ElapsedMilliseconds < 250 && p.GlobalStep != p.MaxSteps)) return;
            _last.Restart();
            double rate = p.StepsThisRun / Math.Max(p.Elapsed.TotalSeconds, 1e-9);
            var eta = TimeSpan.FromSeconds((p.MaxSteps - p.GlobalStep) / Math.Max(rate, 1e-9));
            int width = 24, filled = (int)Math.Round(width * (double)p.GlobalStep / Math.Max(1, p.MaxSteps));
            ProgressLine.Draw($"{p.GlobalStep,6}/{p.MaxSteps} [{new string('#', filled)}{new string('.', width - filled)}] epoch {p.Epoch:F2} loss {p.Loss:F4} lr {p.LearningRate:0.00e+00} {rate:F2} it/s ETA {eta:hh\\:mm\\:ss}  ");
        }
    }
}
