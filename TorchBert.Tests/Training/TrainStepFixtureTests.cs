using TorchBert.Modeling;
using TorchBert.Tests.Support;
using TorchBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Tests.Training;

/// <summary>
/// tiny-bert-train-step (shared/README.md): three optimizer steps of HF Trainer's recipe in PyTorch — loss, every
/// gradient, grad_norm and every parameter after step 3 — reproduced with the library's pieces (HF parameter groups,
/// AdamW, clip_grad_norm_, the linear schedule, the task's loss in train mode).
/// </summary>
public class TrainStepFixtureTests
{
    [Fact]
    public void ThreeStepsMatchPyTorch()
    {
        var dir = Fixtures.Dir("tiny-bert-train-step");
        var expected = ReferenceSafeTensors.Read(Path.Combine(dir, "expected.safetensors"));
        using var model = BertForSequenceClassification.FromPretrained(dir, new PretrainedOptions { Device = CPU, AttnImplementation = Configuration.AttentionImplementation.Eager });
        var task = new SequenceClassificationTask(model, null);
        var groups = HfAdamW.HfParameterGroups(model, 0.01);
        // HF's groups: decay on Linear/Embedding weights, none on biases and LayerNorm parameters
        groups[0].Parameters.Select(p => p.Name).Should().Contain("bert.embeddings.word_embeddings.weight").And.Contain("classifier.weight")
            .And.NotContain(n => n.Contains("LayerNorm") || n.EndsWith("bias"));
        groups[1].Parameters.Select(p => p.Name).Should().Contain("classifier.bias").And.Contain("bert.embeddings.LayerNorm.weight")
            .And.OnlyContain(n => n.Contains("LayerNorm") || n.EndsWith("bias"));
        using var optimizer = new HfAdamW(groups, 1e-3, 0.9, 0.999, 1e-8);
        var schedule = new LrSchedule(SchedulerType.Linear, 1e-3, 1, 4);
        var parameters = groups.SelectMany(g => g.Parameters).ToList();
        var batch = new TrainingBatch
        {
            InputIds = expected["input_ids"], AttentionMask = expected["attention_mask"], TokenTypeIds = expected["token_type_ids"],
            Labels = expected["labels"], Features = [new Feature { InputIds = [] }, new Feature { InputIds = [] }, new Feature { InputIds = [] }],
        };
        var stepLoss = expected["step_loss"].data<float>().ToArray();
        var gradNorm = expected["grad_norm"].data<float>().ToArray();
        var lrs = expected["lr"].data<float>().ToArray();
        double maxGradError = 0, maxParamError = 0;
        model.train();
        for (int step = 0; step < 3; step++)
        {
            using (var scope = NewDisposeScope())
            {
                var loss = task.ComputeLoss(batch);
                if (step == 0) loss.item<float>().Should().BeApproximately(expected["loss"].item<float>(), 1e-5f);
                loss.item<float>().Should().BeApproximately(stepLoss[step], 1e-5f, $"step {step + 1} loss");
                loss.backward();
            }
            if (step == 0)
            {
                foreach (var (name, p) in parameters)
                {
                    using var g = p.grad;
                    g.Should().NotBeNull(name);
                    var error = (g! - expected["grad." + name]).abs().max().item<float>();
                    error.Should().BeLessThanOrEqualTo(1e-5f, $"grad.{name}");
                    maxGradError = Math.Max(maxGradError, error);
                }
            }
            var norm = GradClipping.ClipGradNorm(parameters.Select(p => p.Parameter), 1.0);
            norm.Should().BeApproximately(gradNorm[step], 1e-4, $"step {step + 1} grad_norm");
            optimizer.Lr = schedule.LastLr;
            optimizer.Lr.Should().BeApproximately(lrs[step], 1e-9);
            optimizer.Step();
            schedule.Step();
            optimizer.ZeroGrad();
        }
        model.eval();
        optimizer.StepOf("classifier.weight").Should().Be(3);
        var keyBiasTolerance = 2 * 1e-3 * 3;
        foreach (var (name, p) in parameters)
        {
            var error = (p - expected["step3." + name]).abs().max().item<float>();
            if (name.EndsWith("attention.self.key.bias")) { error.Should().BeLessThanOrEqualTo((float)keyBiasTolerance, name); continue; }
            error.Should().BeLessThanOrEqualTo(1e-5f, $"step3.{name}");
            maxParamError = Math.Max(maxParamError, error);
        }
        // recorded for the report (test output)
        Console.WriteLine($"train-step fixture: max |grad error| {maxGradError:E2}, max |param error| after 3 steps {maxParamError:E2}");
        foreach (var t in expected.Values) t.Dispose();
    }
}
