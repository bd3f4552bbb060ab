using System.Text.Json.Nodes;
using TorchBert.Loading;
using TorchBert.Pipelines;
using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Pipelines;

/// <summary>
/// TorchBert's task pipelines against an independent port of HF's pipelines: transformers.js 4.3.2 (onnxruntime-node)
/// on ONNX exports of the same fixture weights (and, for sentence embeddings, on the embedded all-MiniLM-L6-v2's own
/// model.onnx). <c>Fixtures/transformersjs-oracle/results.jsonl</c> was written by
/// <c>tools/transformersjs-oracle</c> (prepare.py exports the fixtures after checking the export against the HF outputs
/// recorded in them; run.mjs runs the pipelines); nothing here runs Node. Each line holds a case and what transformers.js
/// returned. TorchBert's result is put into transformers.js' shape (the fields transformers.js has: it reports no
/// character offsets, and its QA answer is the decoded, lower-cased tokens) and must equal it, scores within 1e-5.
/// A case with a <c>deviation</c> is one where transformers.js departs from HF Python's pipeline (TorchBert follows
/// Python); for it the test asserts that the two still differ, so the note in the case stays true.
/// </summary>
public sealed class TransformersJsCrossCheckTests : IClassFixture<TransformersJsCrossCheckTests.Models>
{
    private const double Tolerance = 1e-5;

    public sealed class Models : IDisposable
    {
        private static readonly PipelineOptions Cpu = new() { Device = CPU };
        public TextClassificationPipeline SeqCls { get; } = TextClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls"), Cpu);
        public TextClassificationPipeline MultiLabel { get; } = TextClassificationPipeline.FromPretrained(
            TaskPipelineFixtures.Folder("tiny-bert-seqcls", "multilabel", c => c["problem_type"] = "multi_label_classification"), Cpu);
        /// <summary>HF Python's <c>classifier(text, truncation=True)</c> (transformers.js always truncates).</summary>
        public TextClassificationPipeline SeqClsTruncating { get; } = TextClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-seqcls"), Cpu with { Truncation = true });
        public TokenClassificationPipeline TokCls { get; } = TokenClassificationPipeline.FromPretrained(TaskPipelineFixtures.Folder("tiny-bert-tokcls"), Cpu);
        public QuestionAnsweringPipeline Qa { get; } = QuestionAnsweringPipeline.FromPretrained(Fixtures.Dir("tiny-bert-qa"), Cpu);
        public ZeroShotClassificationPipeline Nli { get; } = ZeroShotClassificationPipeline.FromPretrained(TaskPipelineFixtures.Nli(), Cpu);
        public FillMaskPipeline FillMask { get; } = FillMaskPipeline.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), Cpu);
        public FeatureExtractionPipeline Features { get; } = FeatureExtractionPipeline.FromPretrained(Fixtures.Dir("tiny-bert-mlm"), Cpu);
        /// <summary>The embedded all-MiniLM-L6-v2 (transformers.js ran the package's own model.onnx).</summary>
        public SentenceEmbeddingPipeline MiniLM { get; } = SentenceEmbeddingPipeline.FromPretrained(DefaultModel.EnsureInstalled(), Cpu);

        public void Dispose()
        {
            SeqCls.Dispose(); SeqClsTruncating.Dispose(); MultiLabel.Dispose(); TokCls.Dispose(); Qa.Dispose(); Nli.Dispose(); FillMask.Dispose(); Features.Dispose(); MiniLM.Dispose();
        }
    }

    private readonly Models m;
    public TransformersJsCrossCheckTests(Models m) => this.m = m;

    private static readonly string ResultsPath = Path.Combine("Fixtures", "transformersjs-oracle", "results.jsonl");

    private static Dictionary<string, JsonObject> Cases() =>
        File.ReadLines(ResultsPath).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())
            .ToDictionary(c => (string)c["id"]!);

    public static TheoryData<string> Ids()
    {
        var data = new TheoryData<string>();
        foreach (var id in Cases().Keys) data.Add(id);
        return data;
    }

    [Fact]
    public void The_recorded_cases_cover_every_task_and_option()
    {
        var cases = Cases().Values.ToList();
        cases.Count.Should().BeGreaterThanOrEqualTo(20);
        cases.Select(c => (string)c["task"]!).Distinct().Should().BeEquivalentTo(
            "text-classification", "token-classification", "question-answering", "zero-shot-classification", "fill-mask", "feature-extraction");
        cases.Count(c => c["deviation"] is null).Should().BeGreaterThanOrEqualTo(15, "most cases are ones both ports must agree on");
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Case_agrees_with_transformers_js(string id)
    {
        var c = Cases()[id];
        var options = c["options"] as JsonObject ?? [];
        var deviation = (string?)c["deviation"];
        if (c["error"] is JsonNode error)
        {
            // transformers.js refuses the options; HF Python (and TorchBert) run them.
            deviation.Should().NotBeNull($"{id}: transformers.js failed ({error}) on a case not marked as a deviation");
            var act = () => Run(c, options);
            act.Should().NotThrow($"{id}: HF Python supports this case ({deviation})");
            return;
        }
        var got = Run(c, options);
        var expected = (string)c["task"]! == "feature-extraction" ? Rows(c["output"]!.AsObject(), options) : c["output"]!;
        var diff = Difference(got, expected, "$");
        if (deviation is null)
            diff.Should().BeNull($"{id}: TorchBert {got.ToJsonString()}\n    transformers.js {expected.ToJsonString()}");
        else
            diff.Should().NotBeNull($"{id} is recorded as a deviation of transformers.js from HF Python ({deviation}), but the two now agree");
    }

    private JsonNode Run(JsonObject c, JsonObject options)
    {
        var task = (string)c["task"]!;
        var model = (string)c["model"]!;
        return task switch
        {
            "text-classification" => TextClassification(c, options, model),
            "token-classification" => TokenClassification(c, options),
            "question-answering" => QuestionAnswering(c, options),
            "zero-shot-classification" => ZeroShot(c, options),
            "fill-mask" => FillMask(c, options),
            "feature-extraction" => FeatureExtraction(c, options, model),
            _ => throw new InvalidOperationException($"unknown task {task}"),
        };
    }

    private static (List<string> Items, bool Batched) Inputs(JsonNode node) =>
        node is JsonArray a ? (a.Select(x => (string)x!).ToList(), true) : ([(string)node!], false);

    private JsonNode TextClassification(JsonObject c, JsonObject options, string model)
    {
        var pipe = model switch { "seqcls" => m.SeqCls, "seqcls-truncating" => m.SeqClsTruncating, "multilabel" => m.MultiLabel, _ => throw new InvalidOperationException(model) };
        var (texts, batched) = Inputs(c["inputs"]!);
        int? topK = options.ContainsKey("top_k") ? (int?)options["top_k"] : 1;
        var results = pipe.Run(texts, new TextClassificationParams { TopK = topK });
        var rows = results.Select(r => new JsonArray(r.Select(s => (JsonNode)new JsonObject { ["label"] = s.Label, ["score"] = s.Score }).ToArray())).ToList();
        // transformers.js (and HF Python) shapes: top_k 1 → one dict per text in a flat list; otherwise a list per text
        if (topK == 1) return new JsonArray(rows.Select(r => r[0]!.DeepClone()).ToArray());
        return batched ? new JsonArray(rows.Cast<JsonNode>().ToArray()) : rows[0];
    }

    private JsonNode TokenClassification(JsonObject c, JsonObject options)
    {
        var (texts, batched) = Inputs(c["inputs"]!);
        var strategy = (string?)options["aggregation_strategy"] ?? "none";
        var parameters = new TokenClassificationParams
        {
            Aggregation = Enum.Parse<AggregationStrategy>(strategy, ignoreCase: true),
            IgnoreLabels = options["ignore_labels"] is JsonArray ignore ? ignore.Select(x => (string)x!).ToList() : null,
        };
        var rows = m.TokCls.Run(texts, parameters).Select(entities => (JsonNode)new JsonArray(entities.Select(e =>
            (JsonNode)(e.Entity is not null
                ? new JsonObject { ["entity"] = e.Entity, ["score"] = e.Score, ["index"] = e.Index, ["word"] = e.Word }
                : new JsonObject { ["entity_group"] = e.EntityGroup, ["score"] = e.Score, ["word"] = e.Word })).ToArray())).ToList();
        return batched ? new JsonArray(rows.ToArray()) : rows[0];
    }

    private JsonNode QuestionAnswering(JsonObject c, JsonObject options)
    {
        var (questions, batched) = Inputs(c["question"]!);
        var (contexts, _) = Inputs(c["context"]!);
        int topK = (int?)options["top_k"] ?? 1;
        var inputs = questions.Select((q, i) => new QuestionContext(q, contexts[i])).ToList();
        var rows = m.Qa.Run(inputs, new QuestionAnsweringParams { TopK = topK }).Select(answers =>
        {
            // transformers.js answers with the decoded tokens (lower-cased by the uncased normalizer), HF with the context's text
            var list = answers.Select(a => (JsonNode)new JsonObject { ["answer"] = a.Answer.ToLowerInvariant(), ["score"] = a.Score }).ToArray();
            return topK == 1 ? list[0] : new JsonArray(list);
        }).ToList();
        return batched ? new JsonArray(rows.ToArray()) : rows[0];
    }

    private JsonNode ZeroShot(JsonObject c, JsonObject options)
    {
        var (texts, batched) = Inputs(c["inputs"]!);
        var parameters = new ZeroShotParams
        {
            CandidateLabels = c["candidate_labels"]!.AsArray().Select(x => (string)x!).ToList(),
            HypothesisTemplate = (string?)options["hypothesis_template"] ?? "This example is {}.",
            MultiLabel = (bool?)options["multi_label"] ?? false,
        };
        var rows = m.Nli.Run(texts, parameters).Select(r => (JsonNode)new JsonObject
        {
            ["sequence"] = r.Sequence,
            ["labels"] = new JsonArray(r.Labels.Select(l => (JsonNode)l).ToArray()),
            ["scores"] = new JsonArray(r.Scores.Select(s => (JsonNode)s).ToArray()),
        }).ToList();
        return batched ? new JsonArray(rows.ToArray()) : rows[0];
    }

    private JsonNode FillMask(JsonObject c, JsonObject options)
    {
        var (texts, batched) = Inputs(c["inputs"]!);
        var rows = m.FillMask.Run(texts, new FillMaskParams { TopK = (int?)options["top_k"] ?? 5 }).Select(masks =>
        {
            var lists = masks.Select(candidates => (JsonNode)new JsonArray(candidates.Select(r => (JsonNode)new JsonObject
            {
                ["score"] = r.Score, ["token"] = r.Token, ["token_str"] = r.TokenStr, ["sequence"] = r.Sequence,
            }).ToArray())).ToArray();
            return lists.Length == 1 ? lists[0] : new JsonArray(lists);                // HF: a list per [MASK] when there are several
        }).ToList();
        return batched ? new JsonArray(rows.ToArray()) : rows[0];
    }

    /// <summary>Every input's vectors: (tokens × hidden) for HF's feature-extraction, one vector for mean pooling + normalize.</summary>
    private JsonNode FeatureExtraction(JsonObject c, JsonObject options, string model)
    {
        var (texts, _) = Inputs(c["inputs"]!);
        static JsonArray Vector(float[] v) => new(v.Select(x => (JsonNode)(double)x).ToArray());
        if (model == "minilm")
        {
            ((string?)options["pooling"]).Should().Be("mean");
            ((bool?)options["normalize"]).Should().BeTrue();
            return new JsonArray(m.MiniLM.Run(texts).Select(v => (JsonNode)Vector(v)).ToArray());
        }
        return new JsonArray(m.Features.Run(texts).Select(tokens => (JsonNode)new JsonArray(tokens.Select(t => (JsonNode)Vector(t)).ToArray())).ToArray());
    }

    /// <summary>
    /// transformers.js' feature-extraction tensor as per-input rows: with pooling, (B, H) → B vectors; without, (B, T, H)
    /// → each input's first <c>lengths[b]</c> token vectors (its real tokens, by transformers.js' own tokenizer; the
    /// tensor also holds the padded positions, which HF Python does not return).
    /// </summary>
    private static JsonNode Rows(JsonObject tensor, JsonObject options)
    {
        var dims = tensor["dims"]!.AsArray().Select(d => (int)d!).ToArray();
        var data = tensor["data"]!.AsArray().Select(x => (double)x!).ToArray();
        var lengths = tensor["lengths"]!.AsArray().Select(l => (int)l!).ToArray();
        JsonArray Vector(int offset, int n) => new(data.Skip(offset).Take(n).Select(x => (JsonNode)x).ToArray());
        if (options["pooling"] is not null)
            return new JsonArray(Enumerable.Range(0, dims[0]).Select(b => (JsonNode)Vector(b * dims[1], dims[1])).ToArray());
        return new JsonArray(Enumerable.Range(0, dims[0]).Select(b => (JsonNode)new JsonArray(Enumerable.Range(0, lengths[b])
            .Select(t => (JsonNode)Vector((b * dims[1] + t) * dims[2], dims[2])).ToArray())).ToArray());
    }

    /// <summary>The first place where two JSON values differ (numbers within <see cref="Tolerance"/>), or null.</summary>
    private static string? Difference(JsonNode? got, JsonNode? expected, string path)
    {
        switch (got, expected)
        {
            case (null, null): return null;
            case (JsonArray a, JsonArray b):
                if (a.Count != b.Count) return $"{path}: {a.Count} items vs {b.Count}";
                for (int i = 0; i < a.Count; i++)
                    if (Difference(a[i], b[i], $"{path}[{i}]") is { } d) return d;
                return null;
            case (JsonObject a, JsonObject b):
                var keys = a.Select(p => p.Key).Union(b.Select(p => p.Key)).ToList();
                foreach (var k in keys)
                {
                    if (!a.ContainsKey(k) || !b.ContainsKey(k)) return $"{path}.{k}: only on one side";
                    if (Difference(a[k], b[k], $"{path}.{k}") is { } d) return d;
                }
                return null;
            case (JsonValue a, JsonValue b) when a.TryGetValue(out double x) && b.TryGetValue(out double y):
                return Math.Abs(x - y) <= Tolerance ? null : $"{path}: {x} vs {y}";
            case (JsonValue a, JsonValue b):
                return a.ToJsonString() == b.ToJsonString() ? null : $"{path}: {a.ToJsonString()} vs {b.ToJsonString()}";
            default:
                return $"{path}: {got?.ToJsonString() ?? "null"} vs {expected?.ToJsonString() ?? "null"}";
        }
    }
}
