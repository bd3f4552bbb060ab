using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchBert.Checkpoints;
using TorchBert.Modeling;
using static TorchSharp.torch;

namespace TorchBert.Training;

public sealed partial class Trainer
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The checkpoint-N folders of <paramref name="outputDir"/>, oldest first.</summary>
    public static List<string> Checkpoints(string outputDir) =>
        !Directory.Exists(outputDir) ? [] :
        Directory.GetDirectories(outputDir, "checkpoint-*")
            .Select(d => (Dir: d, Step: int.TryParse(Path.GetFileName(d)["checkpoint-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : -1))
            .Where(x => x.Step >= 0 && File.Exists(Path.Combine(x.Dir, "trainer_state.json")))
            .OrderBy(x => x.Step).Select(x => x.Dir).ToList();

    /// <summary>The newest complete checkpoint-N folder, or null.</summary>
    public static string? LatestCheckpoint(string outputDir) => Checkpoints(outputDir).LastOrDefault();

    /// <summary>HF <c>save_model</c>: model (safetensors + config.json) and tokenizer files into <paramref name="dir"/>.</summary>
    public void SaveModel(string dir)
    {
        Model.SavePretrained(dir);
        TrainingTask.Tokenizer?.SavePretrained(dir);
    }

    /// <summary>
    /// Writes <c>checkpoint-{global_step}</c>: model, tokenizer, optimizer.safetensors (AdamW moments; step counts in the
    /// metadata), scheduler.json, rng_state.safetensors (torch's CPU generator), trainer_state.json (HF's fields, log
    /// history) and training_args.json — all into a temporary folder that is renamed into place at the end, so an
    /// interrupted save never leaves a partial checkpoint and never touches the previous ones. Then rotates old checkpoints.
    /// </summary>
    private void SaveCheckpoint(Dictionary<string, double>? metrics)
    {
        var name = $"checkpoint-{GlobalStep}";
        var final = Path.Combine(Args.OutputDir, name);
        var temp = AtomicFile.StagingDirectory(final);
        try
        {
            SaveModel(temp);
            var (tensors, steps) = _optimizer!.StateDict();
            SafeTensorsWriter.Write(Path.Combine(temp, "optimizer.safetensors"), tensors, new Dictionary<string, string>
            {
                ["format"] = "pt",
                ["steps"] = JsonSerializer.Serialize(steps),
                ["lr"] = _optimizer.Lr.ToString("R", CultureInfo.InvariantCulture),
            });
            File.WriteAllText(Path.Combine(temp, "scheduler.json"), new JsonObject
            {
                ["last_epoch"] = _schedule!.LastEpoch,
                ["base_lrs"] = new JsonArray(_schedule.BaseLr),
                ["_last_lr"] = new JsonArray(_schedule.LastLr),
                ["num_warmup_steps"] = _schedule.NumWarmupSteps,
                ["num_training_steps"] = _schedule.NumTrainingSteps,
                ["lr_scheduler_type"] = Args.LrSchedulerType.ToString(),
            }.ToJsonString(Indented));
            using (var rng = random.get_rng_state())
                SafeTensorsWriter.Write(Path.Combine(temp, "rng_state.safetensors"), [new("cpu", rng)]);
            WriteState(temp);
            BeforeCheckpointCommit?.Invoke(temp);
            AtomicFile.ReplaceDirectory(temp, final);
        }
        catch
        {
            AtomicFile.TryDeleteDirectory(temp);
            throw;
        }
        Message?.Invoke($"saved {final}" + (metrics is null ? "" : $" ({string.Join(", ", metrics.Select(kv => $"{kv.Key} {kv.Value:G4}"))})"));
        RotateCheckpoints();
    }

    /// <summary>HF <c>_rotate_checkpoints</c>: keep the newest save_total_limit checkpoints, and always the best one.</summary>
    private void RotateCheckpoints()
    {
        if (Args.SaveTotalLimit is not int limit) return;
        var all = Checkpoints(Args.OutputDir);
        var best = BestModelCheckpoint is null ? null : Path.GetFullPath(BestModelCheckpoint);
        // HF: with load_best_model_at_end and a limit of 1, keep 2 so the newest is never deleted
        if (limit == 1 && best is not null && Path.GetFullPath(all[^1]) != best) limit = 2;
        var deletable = all.Where(d => Path.GetFullPath(d) != best).ToList();
        int keepOthers = limit - (best is not null && all.Any(d => Path.GetFullPath(d) == best) ? 1 : 0);
        foreach (var dir in deletable.Take(Math.Max(0, deletable.Count - Math.Max(keepOthers, 1))))
            Directory.Delete(dir, recursive: true);
    }

    /// <summary>HF's trainer_state.json (log history included) and training_args.json.</summary>
    private void WriteState(string dir)
    {
        var state = new JsonObject
        {
            ["best_metric"] = BestMetric,
            ["best_model_checkpoint"] = BestModelCheckpoint,
            ["epoch"] = Epoch,
            ["eval_steps"] = Args.ResolvedEvalSteps,
            ["global_step"] = GlobalStep,
            ["is_hyper_param_search"] = false,
            ["is_local_process_zero"] = true,
            ["is_world_process_zero"] = true,
            ["log_history"] = new JsonArray(_logHistory.Select(e => (JsonNode?)e.DeepClone()).ToArray()),
            ["logging_steps"] = Args.LoggingSteps,
            ["max_steps"] = TotalSteps,
            ["num_input_tokens_seen"] = 0,
            ["num_train_epochs"] = NumEpochs,
            ["save_steps"] = Args.SaveSteps,
            ["total_flos"] = 0,
            ["train_batch_size"] = Args.PerDeviceTrainBatchSize,
            ["trial_name"] = null,
            ["trial_params"] = null,
        };
        AtomicFile.WriteAllText(Path.Combine(dir, "trainer_state.json"), state.ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(dir, "training_args.json"), Args.ToJson());
    }

    private void LoadModelWeights(string dir)
    {
        var path = Path.Combine(dir, "model.safetensors");
        if (!File.Exists(path)) throw new IOException($"{dir}: no model.safetensors in the checkpoint");
        using var reader = SafeTensorsReader.Open(path);
        Pretrained.LoadWeights(Model, reader);
    }

    /// <summary>A checkpoint's JSON file as an object; a missing, unreadable or malformed file is named in the error.</summary>
    private static JsonObject ReadJsonObject(string path)
    {
        if (!File.Exists(path)) throw new IOException($"{path}: not found (not a complete checkpoint)");
        try
        {
            return JsonNode.Parse(Utf8TextFile.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>Restores model, optimizer, scheduler, RNG and trainer state from a checkpoint folder.</summary>
    private void LoadCheckpoint(string dir)
    {
        if (!Directory.Exists(dir)) throw new IOException($"{dir}: checkpoint folder not found");
        var statePath = Path.Combine(dir, "trainer_state.json");
        if (!File.Exists(statePath)) throw new IOException($"{dir}: no trainer_state.json (not a complete checkpoint)");
        LoadModelWeights(dir);

        var optimizerPath = Path.Combine(dir, "optimizer.safetensors");
        if (!File.Exists(optimizerPath)) throw new IOException($"{dir}: no optimizer.safetensors");
        using (var reader = SafeTensorsReader.Open(optimizerPath))
        using (var scope = NewDisposeScope())
        {
            var tensors = reader.Tensors.ToDictionary(t => t.Name, t => t.Load());
            var steps = JsonSerializer.Deserialize<Dictionary<string, long>>(reader.Metadata.GetValueOrDefault("steps") ?? "{}")
                        ?? throw new InvalidDataException($"{optimizerPath}: no step counts in the metadata");
            _optimizer!.LoadStateDict(tensors, steps, optimizerPath);
        }

        var schedulerPath = Path.Combine(dir, "scheduler.json");
        var scheduler = ReadJsonObject(schedulerPath);
        _schedule!.LastEpoch = scheduler["last_epoch"]?.GetValue<int>() ?? throw new InvalidDataException($"{schedulerPath}: no last_epoch");

        var rngPath = Path.Combine(dir, "rng_state.safetensors");
        if (File.Exists(rngPath))
        {
            using var reader = SafeTensorsReader.Open(rngPath);
            using var state = reader.Tensors.Single(t => t.Name == "cpu").Load();
            random.set_rng_state(state);
        }

        var json = ReadJsonObject(statePath);
        GlobalStep = json["global_step"]?.GetValue<int>() ?? throw new InvalidDataException($"{statePath}: no global_step");
        Epoch = json["epoch"]?.GetValue<double>() ?? 0;
        BestMetric = json["best_metric"]?.GetValue<double>();
        BestModelCheckpoint = json["best_model_checkpoint"]?.GetValue<string>();
        _logHistory.Clear();
        if (json["log_history"] is JsonArray history)
            foreach (var e in history) if (e is JsonObject o) _logHistory.Add((JsonObject)o.DeepClone());
    }
}
