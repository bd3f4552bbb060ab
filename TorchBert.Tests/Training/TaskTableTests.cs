using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using TorchBert.Training;
using static TorchSharp.torch;

namespace TorchBert.Tests.Training;

/// <summary>The one task table against transformers' own tables (pipelines/__init__.py SUPPORTED_TASKS, TASK_ALIASES, the Auto mappings).</summary>
public class TaskTableTests
{
    [Theory]
    // task, HF's AutoModelFor* class for BERT (modeling_auto.py), HF's dict input keys (each pipeline's _sanitize/preprocess)
    [InlineData("feature-extraction", "BertModel", "inputs")]
    [InlineData("text-classification", "BertForSequenceClassification", "text,text_pair")]
    [InlineData("token-classification", "BertForTokenClassification", "inputs")]
    [InlineData("question-answering", "BertForQuestionAnswering", "question,context")]
    [InlineData("fill-mask", "BertForMaskedLM", "inputs")]
    [InlineData("zero-shot-classification", "BertForSequenceClassification", "sequences,candidate_labels")]
    public void Each_task_has_hfs_model_class_and_input_names(string task, string modelClass, string inputs)
    {
        var t = TaskTable.Get(task);
        t.Name.Should().Be(task);
        t.ModelClass.Should().Be(modelClass);
        BertAutoModel.Architectures.Should().Contain(t.ModelClass);
        t.InputNames.Should().Equal(inputs.Split(','));
        t.PipelineType.Should().BeAssignableTo<IDisposable>();
    }

    [Fact]
    public void Hfs_aliases_and_the_fine_tuning_tasks_resolve_through_the_table()
    {
        TaskTable.Get("sentiment-analysis").Name.Should().Be("text-classification", "TASK_ALIASES");
        TaskTable.Get("ner").Name.Should().Be("token-classification", "TASK_ALIASES");
        TaskTable.Find("summarization").Should().BeNull();
        FluentActions.Invoking(() => TaskTable.Get("summarization")).Should().Throw<ArgumentException>().WithMessage("task 'summarization' is not supported*");
        foreach (var ft in Enum.GetValues<FineTuningTask>())
        {
            var t = TaskTable.For(ft);
            FineTuning.ParseTask(t.Name).Should().Be(ft);
            FineTuning.TaskOf(new BertConfig { Architectures = [t.ModelClass] }, "x").Should().Be(ft);
        }
        TaskTable.All.Where(t => t.FineTuning is null).Select(t => t.Name).Should().BeEquivalentTo("feature-extraction", "zero-shot-classification");
    }

    [Fact]
    public void Output_shapes_follow_hfs_single_input_rule_and_fill_mask_nesting()
    {
        // Pipeline.__call__: a single input returns its result, a list returns the list
        var qa = TaskTable.Get("question-answering");
        qa.HfOutput(["a"], singleInput: true).Should().Be("a");
        qa.HfOutput(["a", "b"], singleInput: false).Should().BeEquivalentTo(new[] { "a", "b" });
        // text-classification without top_k: one text still comes back as a list of one dict
        TaskTable.Get("text-classification").HfOutput(["label"], singleInput: true).Should().BeEquivalentTo(new object[] { "label" });
        // HF: `if isinstance(args[0], str) and _legacy: return [result]` — with top_k the single text's list is returned as is
        TaskTable.Get("text-classification").HfOutput(["label"], singleInput: true, topKGiven: true).Should().Be("label");
        // fill-mask: one mask → the candidate list; several masks → one list per mask
        TaskTable.Get("fill-mask").NestsPerMask.Should().BeTrue();
        TaskDescriptor.PerPosition<int>([[1, 2]]).Should().BeEquivalentTo(new[] { 1, 2 });
        TaskDescriptor.PerPosition<int>([[1, 2], [3]]).Should().BeEquivalentTo(new[] { new[] { 1, 2 }, new[] { 3 } });
    }

    [Fact]
    public void The_table_builds_the_tasks_pipeline()
    {
        using var pipe = TaskTable.Get("fill-mask").CreatePipeline(Fixtures.Dir("tiny-bert-mlm"), new PipelineOptions { Device = CPU });
        pipe.Should().BeOfType<FillMaskPipeline>();
    }

    [Fact]
    public void A_built_models_config_is_read_only_and_the_callers_stays_writable()
    {
        var config = Fixtures.Config("tiny-bert-mlm");
        using var model = new BertForMaskedLM(config);
        model.Config.IsFrozen.Should().BeTrue();
        FluentActions.Invoking(() => model.Config.HiddenSize = 64).Should().Throw<InvalidOperationException>().WithMessage("*read-only*");
        FluentActions.Invoking(() => model.Config.SetLabels(["a", "b"])).Should().Throw<InvalidOperationException>();
        model.Config.HiddenSize.Should().Be(config.HiddenSize);
        config.HiddenSize = 64;   // the caller's config is its own
        config.HiddenSize.Should().Be(64);
        var copy = model.Config.Clone();
        copy.IsFrozen.Should().BeFalse();
        copy.NumLabels = 3;
        copy.NumLabels.Should().Be(3);
    }
}
