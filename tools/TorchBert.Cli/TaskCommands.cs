using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchBert.Pipelines;
using TorchBert.Tokenization;

namespace TorchBert.Cli;

/// <summary>
/// The HF task pipelines: classify, ner, qa, zero-shot. Each parses, calls the library pipeline, prints; --json
/// prints HF Python's output structure (offsets in code points, as Python), --input/--output stream JSONL.
/// </summary>
internal static class TaskCommands
{
    public static IEnumerable<Command> All() => [Classify(), Ner(), Qa(), ZeroShot()];

    private static Option<string> RequiredModel(string head) => new("--model") { Description = $"model folder (HF or converted) with a {head}", Required = true };
    private static Argument<string[]> OptionalTexts() => new("text") { Arity = ArgumentArity.ZeroOrMore, Description = "input text(s) (or --input FILE.jsonl)" };

    /// <summary>--truncation / --no-truncation / --max-length, --revision and --dtype: shared by every command that runs a pipeline.</summary>
    internal sealed class RunOptions
    {
        public readonly Option<string?> Revision = HubCommands.RevisionOption();
        public readonly Option<string?> DType = CommonOptions.DType();
        public readonly Option<bool> On = new("--truncation") { Description = "truncate inputs longer than the model (or --max-length)" };
        public readonly Option<bool> Off = new("--no-truncation") { Description = "fail on inputs longer than the model instead of truncating" };
        public readonly Option<int?> MaxLength = new("--max-length") { Description = "longest input in tokens (special tokens included); implies --truncation" };

        public void AddTo(Command c) { c.Options.Add(On); c.Options.Add(Off); c.Options.Add(MaxLength); c.Options.Add(Revision); c.Options.Add(DType); }

        public PipelineOptions Options(ParseResult p, bool verbose = false)
        {
            var max = p.GetValue(MaxLength);
            if (max is <= 0) throw new UsageException($"--max-length must be > 0, got {max}");
            if (p.GetValue(On) && p.GetValue(Off)) throw new UsageException("--truncation and --no-truncation contradict each other");
            bool? truncation = p.GetValue(Off) ? false : p.GetValue(On) || max is not null ? true : null;
            return new PipelineOptions
            {
                Truncation = truncation, MaxLength = max, Verbose = verbose,
                Revision = p.GetValue(Revision), DType = CommonOptions.ParseDType(p.GetValue(DType)),
            };
        }
    }

    /// <summary>--input FILE.jsonl / --output FILE.jsonl: one JSON value per line in, one HF result per line out.</summary>
    internal sealed class Io
    {
        public readonly Option<string?> Input = new("--input") { Description = "JSONL file: one input per line" };
        public readonly Option<string?> Output = new("--output") { Description = "JSONL file to write (one result per line; default stdout)" };
        public void AddTo(Command c) { c.Options.Add(Input); c.Options.Add(Output); }
    }

    /// <summary>Reads --input (each line parsed by <paramref name="parse"/>, errors naming file:line) or takes the command-line inputs.</summary>
    private static List<T> Inputs<T>(ParseResult p, Io io, IReadOnlyList<T> fromArgs, Func<JsonNode, T> parse, string what)
    {
        var file = p.GetValue(io.Input);
        if (file is null)
        {
            if (fromArgs.Count == 0) throw new UsageException($"give {what} on the command line or --input FILE.jsonl");
            return fromArgs.ToList();
        }
        if (fromArgs.Count > 0) throw new UsageException($"give {what} either on the command line or with --input, not both");
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: input file not found");
        var items = new List<T>();
        int line = 0;
        foreach (var text in File.ReadLines(file))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try { items.Add(parse(JsonNode.Parse(text) ?? throw new FormatException("null"))); }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException)
            {
                throw new FormatException($"{file}:{line}: {e.Message}");
            }
        }
        if (items.Count == 0) throw new FormatException($"{file}: no inputs");
        return items;
    }

    private static string Str(JsonNode node, string key) =>
        node is JsonValue ? node.GetValue<string>()
        : node[key]?.GetValue<string>() ?? throw new FormatException($"expected a JSON string or an object with \"{key}\"");

    /// <summary>
    /// Runs the inputs in blocks (a progress bar on stderr for --input) and prints: --output/--input as JSONL (one
    /// result per line), --json as HF's shape for what was given, else the human-readable form.
    /// </summary>
    private static int Emit<TIn, TOut>(ParseResult p, Io io, bool json, IReadOnlyList<TIn> inputs, Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> run,
        Func<TIn, TOut, object> hfShape, Func<IReadOnlyList<object>, object> hfMany, Action<TIn, TOut> print, Func<object, object>? single = null)
    {
        single ??= x => x;
        var streaming = p.GetValue(io.Input) is not null || p.GetValue(io.Output) is not null;
        if (!streaming)
        {
            var results = run(inputs);
            if (json)
            {
                var shaped = inputs.Select((x, i) => hfShape(x, results[i])).ToList();
                Cli.WriteJson(shaped.Count == 1 ? single(shaped[0]) : hfMany(shaped));
            }
            else for (int i = 0; i < inputs.Count; i++) print(inputs[i], results[i]);
            return 0;
        }
        var outPath = p.GetValue(io.Output);
        var temp = outPath is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, $".{Path.GetFileName(outPath)}.{Guid.NewGuid():N}.tmp");
        var writer = temp is null ? Console.Out : new StreamWriter(temp, false, new System.Text.UTF8Encoding(false));
        try
        {
            const int block = 256;
            var progress = p.GetValue(io.Input) is not null;
            for (int start = 0; start < inputs.Count; start += block)
            {
                var part = inputs.Skip(start).Take(block).ToList();
                var results = run(part);
                for (int i = 0; i < part.Count; i++) writer.WriteLine(JsonSerializer.Serialize(single(hfShape(part[i], results[i])), Cli.Json));
                if (progress) Progress(start + part.Count, inputs.Count);
            }
            if (temp is not null)
            {
                writer.Dispose();
                File.Move(temp, outPath!, overwrite: true);
                temp = null;
            }
            return 0;
        }
        finally
        {
            if (!ReferenceEquals(writer, Console.Out)) writer.Dispose();
            if (temp is not null) File.Delete(temp);
        }
    }

    private static void Progress(int done, int total)
    {
        const int width = 30;
        var filled = (int)((long)done * width / total);
        Console.Error.Write($"\r[{new string('#', filled)}{new string(' ', width - filled)}] {done}/{total}");
        if (done == total) Console.Error.WriteLine();
    }

    // ---- classify ----------------------------------------------------------------------------------------------

    private static Command Classify()
    {
        var model = RequiredModel("sequence-classification head");
        var topK = new Option<string?>("--top-k") { Description = "labels per input, best first: N, or 'all' (default: the best label, HF's single-dict shape)" };
        var function = new Option<string>("--function") { Description = "default | sigmoid | softmax | none", DefaultValueFactory = _ => "default" };
        var pair = new Option<string?>("--pair") { Description = "second text of a pair (applied to every text)" };
        var json = new Option<bool>("--json") { Description = "print HF's output structure as JSON" };
        var texts = OptionalTexts();
        var trunc = new RunOptions();
        var io = new Io();
        var cmd = new Command("classify", "text classification (HF text-classification pipeline)") { model, topK, function, pair, json, texts };
        trunc.AddTo(cmd);
        io.AddTo(cmd);
        var corpus = new CorpusOptions();
        corpus.AddTo(cmd);
        cmd.SetAction(p => Cli.Run(() =>
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
            if (corpus.Requested(p, p.GetValue(io.Output)))
            {
                if (p.GetValue(texts)!.Length > 0 || second is not null) throw new UsageException("a corpus job reads its texts from --input (no texts or --pair on the command line)");
                using var job = TextClassificationPipeline.FromPretrained(p.GetValue(model)!, trunc.Options(p));
                return corpus.Run(p, new Corpus.ClassificationCorpusTask(job, f), p.GetValue(io.Input), p.GetValue(io.Output), p.GetValue(model)!);
            }
            var inputs = Inputs(p, io, p.GetValue(texts)!.Select(t => new TextPair(t, second)).ToList(),
                n => n is JsonValue ? new TextPair(n.GetValue<string>(), second) : new TextPair(Str(n, "text"), n["text_pair"]?.GetValue<string>()), "texts");
            for (int i = 0; i < inputs.Count; i++)
                if (inputs[i].Text.Length == 0) throw new UsageException($"input {i} is empty");
            var parameters = new TextClassificationParams { TopK = top, Function = f };
            using var pipe = TextClassificationPipeline.FromPretrained(p.GetValue(model)!, trunc.Options(p));
            var legacy = k is null;   // HF: no top_k → one dict per input (a single text still comes as a list of one)
            return Emit(p, io, p.GetValue(json), inputs, xs => pipe.Run(xs, parameters),
                (_, r) => legacy ? Label(r[0]) : r.Select(Label).ToList(),
                many => many,
                (x, r) =>
                {
                    Console.WriteLine(x);
                    foreach (var l in r) Console.WriteLine($"  {l.Score,8:F4}  {l.Label}");
                },
                // HF returns [ {label, score} ] for one text without top_k: its single-input shape is a list.
                single: legacy ? x => new[] { x } : null);
        }));
        return cmd;
    }

    private static object Label(LabelScore l) => new Dictionary<string, object> { ["label"] = l.Label, ["score"] = l.Score };

    // ---- ner ---------------------------------------------------------------------------------------------------

    private static Command Ner()
    {
        var model = RequiredModel("token-classification head");
        var aggregation = new Option<string>("--aggregation") { Description = "none | simple | first | average | max", DefaultValueFactory = _ => "none" };
        var ignore = new Option<string?>("--ignore-labels") { Description = "comma-separated labels to drop (default O; \"\" keeps every label)" };
        var stride = new Option<int?>("--stride") { Description = "split texts longer than the model into windows overlapping by N tokens (needs an aggregation)" };
        var json = new Option<bool>("--json") { Description = "print HF's output structure as JSON (offsets in code points)" };
        var texts = OptionalTexts();
        var trunc = new RunOptions();
        var io = new Io();
        var cmd = new Command("ner", "token classification / named entities (HF token-classification pipeline)") { model, aggregation, ignore, stride, json, texts };
        trunc.AddTo(cmd);
        io.AddTo(cmd);
        cmd.SetAction(p => Cli.Run(() =>
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
            var inputs = Inputs(p, io, p.GetValue(texts)!, n => Str(n, "text"), "texts");
            for (int i = 0; i < inputs.Count; i++)
                if (inputs[i].Length == 0) throw new UsageException($"input {i} is empty");
            var parameters = new TokenClassificationParams { Aggregation = strategy, IgnoreLabels = ignoreLabels, Stride = p.GetValue(stride) };
            using var pipe = TokenClassificationPipeline.FromPretrained(p.GetValue(model)!, trunc.Options(p));
            return Emit(p, io, p.GetValue(json), inputs, xs => pipe.Run(xs, parameters),
                (text, r) => r.Select(e => Entity(text, e)).ToList(),
                many => many,
                (text, r) =>
                {
                    Console.WriteLine(text);
                    foreach (var e in r) Console.WriteLine($"  {e.Score,8:F4}  {e.Label,-10} {e.Start,4}-{e.End,-4} {text[e.Start..e.End]}");
                });
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
        var model = RequiredModel("question-answering head");
        var question = new Option<string[]>("--question") { Description = "question (repeat for several questions about the context)" };
        var context = new Option<string?>("--context") { Description = "the text holding the answer" };
        var topK = new Option<int>("--top-k") { Description = "answers per question", DefaultValueFactory = _ => 1 };
        var maxAnswer = new Option<int>("--max-answer-len") { Description = "longest answer in tokens", DefaultValueFactory = _ => 15 };
        var docStride = new Option<int?>("--doc-stride") { Description = "overlap of context windows in tokens (default min(max_seq_len/2, 128))" };
        var maxSeq = new Option<int?>("--max-seq-len") { Description = "tokens per window (default min(384, the model's length))" };
        var impossible = new Option<bool>("--handle-impossible") { Description = "also propose the empty answer" };
        var noAlign = new Option<bool>("--no-align-to-words") { Description = "keep token boundaries instead of widening to whole words" };
        var json = new Option<bool>("--json") { Description = "print HF's output structure as JSON (offsets in code points)" };
        var io = new Io();
        var cmd = new Command("qa", "extractive question answering (HF question-answering pipeline)") { model, question, context, topK, maxAnswer, docStride, maxSeq, impossible, noAlign, json };
        io.AddTo(cmd);
        cmd.SetAction(p => Cli.Run(() =>
        {
            var questions = p.GetValue(question) ?? [];
            var ctx = p.GetValue(context);
            if (p.GetValue(io.Input) is null && questions.Length > 0 && ctx is null) throw new UsageException("--context is required with --question");
            if (p.GetValue(io.Input) is null && questions.Length == 0 && ctx is not null) throw new UsageException("--question is required with --context");
            var inputs = Inputs(p, io, questions.Select(q => new QuestionContext(q, ctx!)).ToList(),
                n => new QuestionContext(Str(n, "question"), n["context"]?.GetValue<string>() ?? throw new FormatException("expected an object with \"question\" and \"context\"")),
                "--question/--context");
            for (int i = 0; i < inputs.Count; i++)
            {
                if (inputs[i].Question.Length == 0) throw new UsageException($"input {i}: the question is empty");
                if (inputs[i].Context.Length == 0) throw new UsageException($"input {i}: the context is empty");
            }
            var parameters = new QuestionAnsweringParams
            {
                TopK = p.GetValue(topK), MaxAnswerLen = p.GetValue(maxAnswer), DocStride = p.GetValue(docStride), MaxSeqLen = p.GetValue(maxSeq),
                HandleImpossibleAnswer = p.GetValue(impossible), AlignToWords = !p.GetValue(noAlign),
            };
            using var pipe = QuestionAnsweringPipeline.FromPretrained(p.GetValue(model)!);
            return Emit(p, io, p.GetValue(json), inputs, xs => pipe.Run(xs, parameters),
                (x, r) => r.Count == 1 ? Answer(x, r[0]) : r.Select(a => Answer(x, a)).ToList(),
                many => many,
                (x, r) =>
                {
                    Console.WriteLine(x.Question);
                    foreach (var a in r) Console.WriteLine($"  {a.Score,8:F4}  {a.Start,4}-{a.End,-4} {a.Answer}");
                });
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
        var model = RequiredModel("NLI sequence-classification head (an 'entailment' label)");
        var labels = new Option<string>("--labels") { Description = "comma-separated candidate labels", Required = true };
        var multi = new Option<bool>("--multi-label") { Description = "score each label independently" };
        var template = new Option<string>("--template") { Description = "hypothesis template, {} = the label", DefaultValueFactory = _ => "This example is {}." };
        var json = new Option<bool>("--json") { Description = "print HF's output structure as JSON" };
        var texts = OptionalTexts();
        var trunc = new RunOptions();
        var io = new Io();
        var cmd = new Command("zero-shot", "zero-shot classification with an NLI model (HF zero-shot-classification pipeline)") { model, labels, multi, template, json, texts };
        trunc.AddTo(cmd);
        io.AddTo(cmd);
        cmd.SetAction(p => Cli.Run(() =>
        {
            var candidates = ZeroShotParams.ParseLabels(p.GetValue(labels)!);
            if (candidates.Count == 0) throw new UsageException("--labels has no candidate label");
            var parameters = new ZeroShotParams { CandidateLabels = candidates, HypothesisTemplate = p.GetValue(template)!, MultiLabel = p.GetValue(multi) };
            var inputs = Inputs(p, io, p.GetValue(texts)!, n => Str(n, "text"), "texts");
            for (int i = 0; i < inputs.Count; i++)
                if (inputs[i].Length == 0) throw new UsageException($"input {i} is empty");
            using var pipe = ZeroShotClassificationPipeline.FromPretrained(p.GetValue(model)!, trunc.Options(p));
            return Emit(p, io, p.GetValue(json), inputs, xs => pipe.Run(xs, parameters),
                (_, r) => new Dictionary<string, object> { ["sequence"] = r.Sequence, ["labels"] = r.Labels, ["scores"] = r.Scores },
                many => many,
                (_, r) =>
                {
                    Console.WriteLine(r.Sequence);
                    for (int i = 0; i < r.Labels.Count; i++) Console.WriteLine($"  {r.Scores[i],8:F4}  {r.Labels[i]}");
                });
        }));
        return cmd;
    }
}
