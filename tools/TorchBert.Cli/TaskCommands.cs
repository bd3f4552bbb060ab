using System.CommandLine;
using System.Text.Json.Nodes;
using TorchBert.Pipelines;
using TorchBert.Tokenization;
using TorchBert.Training;

namespace TorchBert.Cli;

/// <summary>
/// The HF task pipelines: classify, ner, qa, zero-shot. Each parses, calls the library pipeline, prints; --json
/// prints HF Python's output structure (offsets in code points, as Python), --input/--output stream JSONL.
/// </summary>
internal static class TaskCommands
{
    private static string Str(JsonNode n, string key) => JsonLines.Str(n, key);

    public static IEnumerable<Command> All() => [Classify(), Ner(), Qa(), ZeroShot()];

    private static ModelOptions Options(string head) => new($"model folder (HF or converted) or Hub id, with a {head}", required: true);
    private static Argument<string[]> OptionalTexts() => new("text") { Arity = ArgumentArity.ZeroOrMore, Description = "input text(s) (or --input FILE.jsonl); put -- before a text that starts with '-'" };

    // ---- classify ----------------------------------------------------------------------------------------------

    private static Command Classify()
    {
        var o = Options("sequence-classification head");
        var topK = new Option<string?>("--top-k") { Description = "labels per input, best first: N, or 'all' (default: the best label, HF's single-dict shape)" };
        var function = new Option<string>("--function") { Description = "default | sigmoid | softmax | none", DefaultValueFactory = _ => "default" };
        var pair = new Option<string?>("--pair") { Description = "second text of a pair (applied to every text)" };
        var texts = OptionalTexts();
        var cmd = new Command("classify", "text classification (HF text-classification pipeline)") { topK, function, pair, texts };
        o.AddTo(cmd);
        var corpus = new CorpusOptions();
        corpus.AddTo(cmd);
        cmd.SetAction((p, _) => Cli.Run(ct =>
        {
            var k = p.GetValue(topK);
            int? top = k is null ? 1 : k.Equals("all", StringComparison.OrdinalIgnoreCase) ? null
                : int.TryParse(k, out var n) && n >= 1 ? n : throw new UsageException($"--top-k must be a number >= 1 or 'all', got '{k}'");
            ClassificationFunction? f = p.GetValue(function)!.ToLowerInvariant() switch
            {
                "default" => null,
                "sigmoid" => ClassificationFunction.Sigmoid,
                "softmax" => ClassificationFunction.Softmax,
                "none" => ClassificationFunction.None,
                var other => throw new UsageException($"--function must be default, sigmoid, softmax or none, got '{other}'"),
            };
            var second = p.GetValue(pair);
            if (corpus.Requested(p, p.GetValue(o.Output)))
            {
                if (p.GetValue(texts)!.Length > 0 || second is not null) throw new UsageException("a corpus job reads its texts from --input (no texts or --pair on the command line)");
                CorpusOptions.Refuse(p, o.Json);
                using var job = TextClassificationPipeline.FromPretrained(p.GetValue(o.Model)!, o.Pipeline(p));
                // labels/scores: the --top-k best (every label without it); label/score: the best, the output without --top-k
                return corpus.Run(p, new Corpus.ClassificationCorpusTask(job, f, k is null ? null : top), p.GetValue(o.Input), p.GetValue(o.Output), p.GetValue(o.Model)!);
            }
            if (second is not null) Cli.CheckTexts([second], "--pair text");
            Cli.CheckTexts(p.GetValue(texts)!);
            o.CheckOutput(p);
            var inputs = JsonLines.Inputs(p, o, p.GetValue(texts)!.Select(t => new TextPair(t, second)).ToList(),
                n => n is JsonValue ? new TextPair(NonEmpty(Str(n, "text")), second) : new TextPair(NonEmpty(Str(n, "text")), n["text_pair"]?.GetValue<string>()), "texts");
            var parameters = new TextClassificationParams { TopK = top, Function = f };
            using var pipe = TextClassificationPipeline.FromPretrained(p.GetValue(o.Model)!, o.Pipeline(p));
            var legacy = k is null;   // HF: no top_k → one dict per input (a single text still comes as a list of one)
            return JsonLines.Emit(p, o, inputs, xs => pipe.Run(xs, parameters),
                (_, r) => legacy ? Label(r[0]) : r.Select(Label).ToList(),
                (x, r) =>
                {
                    Console.WriteLine(x);
                    foreach (var l in r) Console.WriteLine($"  {l.Score,8:F4}  {l.Label}");
                },
                ct,
                // HF returns [ {label, score} ] for one text without top_k: the task table's single-input rule.
                task: TaskTable.Get("text-classification"), topKGiven: !legacy);
        }));
        return cmd;
    }

    /// <summary>An input read from --input must have text, as one on the command line (see <see cref="Cli.CheckTexts"/>).</summary>
    private static string NonEmpty(string text) =>
        string.IsNullOrWhiteSpace(text) ? throw new FormatException("the text is empty") : text;

    private static object Label(LabelScore l) => new Dictionary<string, object> { ["label"] = l.Label, ["score"] = l.Score };

    // ---- ner ---------------------------------------------------------------------------------------------------

    private static Command Ner()
    {
        var o = Options("token-classification head");
        var aggregation = new Option<string>("--aggregation") { Description = "none | simple | first | average | max", DefaultValueFactory = _ => "none" };
        var ignore = new Option<string?>("--ignore-labels") { Description = "comma-separated labels to drop (default O; \"\" keeps every label)" };
        var stride = new Option<int?>("--stride") { Description = "split texts longer than the model into windows overlapping by N tokens (needs an aggregation)" };
        var texts = OptionalTexts();
        var cmd = new Command("ner", "token classification / named entities (HF token-classification pipeline; offsets in code points)") { aggregation, ignore, stride, texts };
        o.AddTo(cmd);
        cmd.SetAction((p, _) => Cli.Run(ct =>
        {
            var strategy = p.GetValue(aggregation)!.ToLowerInvariant() switch
            {
                "none" => AggregationStrategy.None,
                "simple" => AggregationStrategy.Simple,
                "first" => AggregationStrategy.First,
                "average" => AggregationStrategy.Average,
                "max" => AggregationStrategy.Max,
                var other => throw new UsageException($"--aggregation must be none, simple, first, average or max, got '{other}'"),
            };
            var ignoreLabels = p.GetValue(ignore) is { } s ? s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null;
            Cli.CheckTexts(p.GetValue(texts)!);
            o.CheckOutput(p);
            var inputs = JsonLines.Inputs(p, o, p.GetValue(texts)!, n => NonEmpty(Str(n, "text")), "texts");
            var parameters = new TokenClassificationParams { Aggregation = strategy, IgnoreLabels = ignoreLabels, Stride = p.GetValue(stride) };
            using var pipe = TokenClassificationPipeline.FromPretrained(p.GetValue(o.Model)!, o.Pipeline(p));
            return JsonLines.Emit(p, o, inputs, xs => pipe.Run(xs, parameters),
                (text, r) => r.Select(e => Entity(text, e)).ToList(),
                (text, r) =>
                {
                    Console.WriteLine(text);
                    foreach (var e in r) Console.WriteLine($"  {e.Score,8:F4}  {e.Label,-10} {e.Start,4}-{e.End,-4} {text[e.Start..e.End]}");
                },
                ct, task: TaskTable.Get("token-classification"));
        }));
        return cmd;
    }

    /// <summary>HF's entity dict, keys in HF's order, offsets as Python code points.</summary>
    private static object Entity(string text, TokenEntity e)
    {
        var d = new Dictionary<string, object>();
        if (e.Entity is not null) d["entity"] = e.Entity; else d["entity_group"] = e.EntityGroup!;
        d["score"] = e.Score;
        if (e.Index is int i) d["index"] = i;
        d["word"] = e.Word;
        d["start"] = TextOffsets.ToCodePoints(text, e.Start);
        d["end"] = TextOffsets.ToCodePoints(text, e.End);
        return d;
    }

    // ---- qa ----------------------------------------------------------------------------------------------------

    private static Command Qa()
    {
        var o = Options("question-answering head");
        var question = new Option<string[]>("--question") { Description = "question (repeat for several questions about the context)" };
        var context = new Option<string?>("--context") { Description = "the text holding the answer" };
        var topK = new Option<int>("--top-k") { Description = "answers per question", DefaultValueFactory = _ => 1 };
        var maxAnswer = new Option<int>("--max-answer-len") { Description = "longest answer in tokens", DefaultValueFactory = _ => 15 };
        var docStride = new Option<int?>("--doc-stride") { Description = "overlap of context windows in tokens (default min(max_seq_len/2, 128))" };
        var maxSeq = new Option<int?>("--max-seq-len") { Description = "tokens per window (default min(384, the model's length or --max-length))" };
        var impossible = new Option<bool>("--handle-impossible") { Description = "also propose the empty answer" };
        var noAlign = new Option<bool>("--no-align-to-words") { Description = "keep token boundaries instead of widening to whole words" };
        var cmd = new Command("qa", "extractive question answering (HF question-answering pipeline; offsets in code points; a long context is split into windows)")
            { question, context, topK, maxAnswer, docStride, maxSeq, impossible, noAlign };
        o.AddTo(cmd);
        cmd.SetAction((p, _) => Cli.Run(ct =>
        {
            var questions = p.GetValue(question) ?? [];
            var ctx = p.GetValue(context);
            var fromFile = p.GetValue(o.Input) is not null;
            if (!fromFile && questions.Length > 0 && ctx is null) throw new UsageException("--context is required with --question");
            if (!fromFile && questions.Length == 0 && ctx is not null) throw new UsageException("--question is required with --context");
            if (p.GetValue(o.NoTruncation)) throw new UsageException("qa splits a long context into windows (HF's doc_stride); --no-truncation does not apply");
            Cli.CheckTexts(questions, "--question");
            if (ctx is not null) Cli.CheckTexts([ctx], "--context");
            o.CheckOutput(p);
            var inputs = JsonLines.Inputs(p, o, questions.Select(q => new QuestionContext(q, ctx!)).ToList(),
                n => new QuestionContext(NonEmpty(Str(n, "question")),
                    NonEmpty(n["context"]?.GetValue<string>() ?? throw new FormatException("expected an object with \"question\" and \"context\""))),
                "--question/--context");
            var parameters = new QuestionAnsweringParams
            {
                TopK = p.GetValue(topK), MaxAnswerLen = p.GetValue(maxAnswer), DocStride = p.GetValue(docStride), MaxSeqLen = p.GetValue(maxSeq),
                HandleImpossibleAnswer = p.GetValue(impossible), AlignToWords = !p.GetValue(noAlign),
            };
            using var pipe = QuestionAnsweringPipeline.FromPretrained(p.GetValue(o.Model)!, o.Pipeline(p));
            return JsonLines.Emit(p, o, inputs, xs => pipe.Run(xs, parameters),
                (x, r) => r.Count == 1 ? Answer(x, r[0]) : r.Select(a => Answer(x, a)).ToList(),
                (x, r) =>
                {
                    Console.WriteLine(x.Question);
                    foreach (var a in r) Console.WriteLine($"  {a.Score,8:F4}  {a.Start,4}-{a.End,-4} {a.Answer}");
                },
                ct, task: TaskTable.Get("question-answering"));
        }));
        return cmd;
    }

    private static object Answer(QuestionContext x, QaAnswer a) => new Dictionary<string, object>
    {
        ["score"] = a.Score,
        ["start"] = TextOffsets.ToCodePoints(x.Context, a.Start),
        ["end"] = TextOffsets.ToCodePoints(x.Context, a.End),
        ["answer"] = a.Answer,
    };

    // ---- zero-shot ---------------------------------------------------------------------------------------------

    private static Command ZeroShot()
    {
        var o = Options("NLI sequence-classification head (an 'entailment' label)");
        var labels = new Option<string>("--labels") { Description = "comma-separated candidate labels", Required = true };
        var multi = new Option<bool>("--multi-label") { Description = "score each label independently" };
        var template = new Option<string>("--template") { Description = "hypothesis template, {} = the label", DefaultValueFactory = _ => "This example is {}." };
        var texts = OptionalTexts();
        var cmd = new Command("zero-shot", "zero-shot classification with an NLI model (HF zero-shot-classification pipeline)") { labels, multi, template, texts };
        o.AddTo(cmd);
        cmd.SetAction((p, _) => Cli.Run(ct =>
        {
            var candidates = ZeroShotParams.ParseLabels(p.GetValue(labels)!);
            if (candidates.Count == 0) throw new UsageException("--labels has no candidate label");
            var parameters = new ZeroShotParams { CandidateLabels = candidates, HypothesisTemplate = p.GetValue(template)!, MultiLabel = p.GetValue(multi) };
            Cli.CheckTexts(p.GetValue(texts)!);
            o.CheckOutput(p);
            var inputs = JsonLines.Inputs(p, o, p.GetValue(texts)!, n => NonEmpty(Str(n, "text")), "texts");
            using var pipe = ZeroShotClassificationPipeline.FromPretrained(p.GetValue(o.Model)!, o.Pipeline(p));
            return JsonLines.Emit(p, o, inputs, xs => pipe.Run(xs, parameters),
                (_, r) => new Dictionary<string, object> { ["sequence"] = r.Sequence, ["labels"] = r.Labels, ["scores"] = r.Scores },
                (_, r) =>
                {
                    Console.WriteLine(r.Sequence);
                    for (int i = 0; i < r.Labels.Count; i++) Console.WriteLine($"  {r.Scores[i],8:F4}  {r.Labels[i]}");
                },
                ct, task: TaskTable.Get("zero-shot-classification"));
        }));
        return cmd;
    }
}
