using System.CommandLine;
using System.Text.Json;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tokenization;
using TorchBert.Training;
using TorchSharp;

namespace TorchBert.Cli;

/// <summary>
/// The subcommands. Each is thin: parse, call the library, print. New commands register with one line in <see cref="All"/>
/// and set their action as <c>cmd.SetAction((p, ct) =&gt; Cli.Run(() =&gt; ...))</c> — the two-parameter form: a one-parameter
/// lambda binds to System.CommandLine's <c>Action&lt;ParseResult&gt;</c> overload and the exit code is lost.
/// </summary>
internal static class Commands
{
    public static IEnumerable<Command> All() =>
    [
        FillMask(), Embed(), SimilarityCommand(), Tokenize(), Inspect(), Forward.Command(), ConvertCommand.Command(),
        TrainingCommands.Train(), TrainingCommands.Evaluate(), PlotCommands.Command(),
        .. HubCommands.All(),
        .. TaskCommands.All(),
        ServeCommand.Command(),
    ];

    /// <summary>The root command: what the CLI does, then every command (System.CommandLine lists them under Commands:).</summary>
    public static RootCommand Root()
    {
        var root = new RootCommand(
            "torchbert: HuggingFace-identical BERT on TorchSharp. Run HF pipelines (fill-mask, classify, ner, qa, zero-shot), " +
            "sentence embeddings and similarity, tokenize, inspect, run and convert models, download from the Hub, fine-tune " +
            "and evaluate, plot what a model sees, and serve models over HTTP (TEI-compatible). Exit codes: 0 done, 1 error, 2 bad command line, 130 interrupted. " +
            "Put -- before texts that start with '-'. Reference: docs/cli.md");
        foreach (var command in All()) root.Subcommands.Add(command);
        return root;
    }

    private static Argument<string[]> Texts(string name = "text") => new(name) { Arity = ArgumentArity.ZeroOrMore, Description = "input text(s) (or --input FILE.jsonl); put -- before a text that starts with '-'" };

    private static Command FillMask()
    {
        var o = new ModelOptions($"model folder (HF or converted) or Hub id with an MLM head; default: {Cli.DefaultMlmModel} from the Hub");
        var topK = new Option<int>("--top-k") { Description = "candidates per mask", DefaultValueFactory = _ => 5 };
        var targets = new Option<string?>("--targets") { Description = "comma-separated words to rank instead of the whole vocabulary" };
        var verbose = new Option<bool>("--verbose") { Description = "show the tensors flowing through preprocess → forward → postprocess" };
        var texts = Texts();
        var cmd = new Command("fill-mask", "predict [MASK] tokens (HF fill-mask pipeline)") { topK, targets, verbose, texts };
        o.AddTo(cmd);
        cmd.SetAction((p, _) => Cli.Run(ct =>
        {
            if (p.GetValue(topK) < 1) throw new UsageException($"--top-k must be >= 1, got {p.GetValue(topK)}");
            Cli.CheckTexts(p.GetValue(texts)!);
            o.CheckOutput(p);
            var inputs = JsonLines.Inputs(p, o, p.GetValue(texts)!, n => NonEmpty(JsonLines.Str(n, "text")), "texts");
            var targetList = p.GetValue(targets)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            using var pipe = FillMaskPipeline.FromPretrained(Cli.MlmModel(p.GetValue(o.Model)), o.Pipeline(p, p.GetValue(verbose)), p.GetValue(topK), targetList);
            foreach (var w in pipe.Warnings) ProgressLine.Print($"torchbert: warning: {w}");
            // HF's shapes: one mask → a list of candidates; several → a list per mask; several inputs → a list per input.
            return JsonLines.Emit(p, o, inputs, xs => pipe.Run(xs),
                (_, r) => TaskDescriptor.PerPosition(r),
                (text, r) =>
                {
                    Console.WriteLine(text);
                    for (int m = 0; m < r.Count; m++)
                    {
                        if (r.Count > 1) Console.WriteLine($"  mask {m + 1}:");
                        foreach (var c in r[m])
                            Console.WriteLine($"  {c.Score,8:F4}  {c.TokenStr,-14} {c.Sequence}");
                    }
                },
                ct, task: TaskTable.Get("fill-mask"));
        }));
        return cmd;
    }

    /// <summary>An input read from --input must have text, as one on the command line (see <see cref="Cli.CheckTexts"/>).</summary>
    internal static string NonEmpty(string text) =>
        string.IsNullOrWhiteSpace(text) ? throw new FormatException("the text is empty") : text;

    private static Command Embed()
    {
        var o = new ModelOptions(ModelOptions.DefaultModel, json: "print the vectors as JSON (a list of lists)");
        var sentence = new SentenceOptions();
        var texts = Texts();
        var cmd = new Command("embed", "sentence embeddings as sentence-transformers' encode (the folder's pooling, normalization, prompts, max_seq_length; --max-length overrides the length)") { texts };
        o.AddTo(cmd);
        sentence.AddTo(cmd);
        var corpus = new CorpusOptions();
        corpus.AddTo(cmd);
        cmd.SetAction((p, _) => Cli.Run(ct =>
        {
            var overrides = sentence.Options(p);
            var parameters = sentence.Parameters(p);
            Cli.CheckTexts(p.GetValue(texts)!);
            if (corpus.Requested(p, p.GetValue(o.Output)))
            {
                if (p.GetValue(texts)!.Length > 0) throw new UsageException("a corpus job reads its texts from --input (no texts on the command line)");
                CorpusOptions.Refuse(p, o.Json);
                var jobOptions = o.Pipeline(p);   // option errors before the default model's first-use import
                var name = Cli.ModelOrDefault(p.GetValue(o.Model));
                using var job = SentenceEmbeddingPipeline.FromPretrained(name, jobOptions, overrides);
                return corpus.Run(p, new Corpus.EmbeddingCorpusTask(job, parameters), p.GetValue(o.Input), p.GetValue(o.Output), name);
            }
            o.CheckOutput(p);
            var inputs = JsonLines.Inputs(p, o, p.GetValue(texts)!, n => NonEmpty(JsonLines.Str(n, "text")), "texts");
            var options = o.Pipeline(p);   // option errors before the default model's first-use import
            using var pipe = SentenceEmbeddingPipeline.FromPretrained(Cli.ModelOrDefault(p.GetValue(o.Model)), options, overrides);
            return JsonLines.Emit(p, o, inputs, xs => pipe.Run(xs, parameters),
                (_, v) => v,
                (text, v) => Console.WriteLine($"{text}\n  [{v.Length}] {string.Join(", ", v.Take(8).Select(x => x.ToString("0.0000")))}, ..."),
                ct, jsonList: true);
        }));
        return cmd;
    }

    private static Command SimilarityCommand()
    {
        var o = new ModelOptions(ModelOptions.DefaultModel, json: "print {sentences, similarity} as JSON");
        var texts = Texts();
        var cmd = new Command("similarity", "cosine similarity matrix of sentence embeddings (the model folder's pooling); at least two texts") { texts };
        o.AddTo(cmd);
        var sentence = new SentenceOptions();
        sentence.AddTo(cmd);
        cmd.SetAction((p, _) => Cli.Run(() =>
        {
            var overrides = sentence.Options(p);
            var parameters = sentence.Parameters(p);
            Cli.CheckTexts(p.GetValue(texts)!);
            o.CheckOutput(p);
            var inputs = JsonLines.Inputs(p, o, p.GetValue(texts)!, n => NonEmpty(JsonLines.Str(n, "text")), "texts");
            if (inputs.Count < 2) throw new UsageException($"similarity needs at least two texts to compare, got {inputs.Count}");
            var options = o.Pipeline(p);   // option errors before the default model's first-use import
            using var pipe = SentenceEmbeddingPipeline.FromPretrained(Cli.ModelOrDefault(p.GetValue(o.Model)), options, overrides);
            var matrix = Similarity.Matrix(pipe.Run(inputs, parameters));
            if (p.GetValue(o.Output) is { } output)
            {
                JsonLines.WriteAtomically(output, JsonSerializer.Serialize(new { sentences = inputs, similarity = matrix }, Cli.Json) + "\n");
                return 0;
            }
            if (p.GetValue(o.Json)) { Cli.WriteJson(new { sentences = inputs, similarity = matrix }); return 0; }
            for (int i = 0; i < inputs.Count; i++) Console.WriteLine($"[{i}] {inputs[i]}");
            Console.WriteLine("     " + string.Concat(inputs.Select((_, j) => $"{$"[{j}]",8}")));
            for (int i = 0; i < inputs.Count; i++)
                Console.WriteLine($"{$"[{i}]",5}" + string.Concat(matrix[i].Select(v => $"{v,8:F4}")));
            return 0;
        }));
        return cmd;
    }

    private static Command Tokenize()
    {
        var model = new Option<string?>("--model") { Description = ModelOptions.DefaultModel };
        var json = CommonOptions.Json();
        var maxLength = new Option<int?>("--max-length") { Description = "truncate (longest_first) to this many tokens" };
        var text = new Argument<string>("text") { Description = "text to tokenize" };
        var pair = new Argument<string?>("pair") { Arity = ArgumentArity.ZeroOrOne, Description = "optional second text (sentence pair)" };
        var revision = CommonOptions.Revision();
        var cmd = new Command("tokenize", "HF tokenizer output (input_ids, token_type_ids, attention_mask, tokens) of TEXT, or of the pair TEXT PAIR (PAIR is optional)") { model, revision, json, maxLength, text, pair };
        cmd.SetAction((p, _) => Cli.Run(() =>
        {
            Cli.CheckTexts(p.GetValue(pair) is { } second ? [p.GetValue(text)!, second] : [p.GetValue(text)!]);
            var max = p.GetValue(maxLength);
            if (max is <= 0) throw new UsageException($"--max-length must be > 0, got {max}");   // before the default model's first-use import
            var tokenizer = TokenizerLoader.ForModel(Cli.ModelOrDefault(p.GetValue(model)), p.GetValue(revision));
            var enc = tokenizer.Encode(p.GetValue(text)!, p.GetValue(pair), new EncodeOptions
            {
                MaxLength = max,
                Truncation = max is null ? null : TruncationStrategy.LongestFirst,
            });
            var result = new { input_ids = enc.InputIds, token_type_ids = enc.TokenTypeIds, attention_mask = enc.AttentionMask, tokens = enc.Tokens };
            if (p.GetValue(json)) { Cli.WriteJson(result); return 0; }
            for (int i = 0; i < enc.Length; i++)
                Console.WriteLine($"{i,4}  {enc.InputIds[i],6}  {enc.TokenTypeIds[i]}  {enc.Tokens[i]}");
            return 0;
        }));
        return cmd;
    }

    private static Command Inspect()
    {
        var model = new Option<string?>("--model") { Description = ModelOptions.DefaultModel };
        var config = new Option<string?>("--config") { Description = "a config.json: print the architecture it describes (no weights)" };
        var json = CommonOptions.Json();
        var revision = CommonOptions.Revision();
        var cmd = new Command("inspect", "the PyTorch-style module tree and parameter counts") { model, revision, config, json };
        cmd.SetAction((p, _) => Cli.Run(() =>
        {
            NativeRuntime.EnsureLoaded();
            BertPreTrainedModel m;
            if (p.GetValue(config) is { } configPath)
            {
                var c = BertConfig.FromFile(configPath);
                m = BertAutoModel.ForConfig(c).Create(c);
            }
            else m = Inspection.Load(Cli.ModelOrDefault(p.GetValue(model)), new PretrainedOptions { Revision = p.GetValue(revision) });
            using (m)
            {
                var tree = m.ToString();
                var count = m.ParameterCount();
                if (p.GetValue(json))
                {
                    Cli.WriteJson(new { architecture = m.GetType().Name, parameters = count, config = System.Text.Json.Nodes.JsonNode.Parse(m.Config.ToJson()), tree });
                    return 0;
                }
                Console.WriteLine(tree);
                Console.WriteLine($"parameters: {count:N0} ({m.GetType().Name}, {m.Config.NumHiddenLayers} layers, hidden {m.Config.HiddenSize}, {m.Config.NumAttentionHeads} heads, {m.Config.AttnImplementation.ToString().ToLowerInvariant()} attention)");
                foreach (var (name, module) in m.named_children())
                    Console.WriteLine($"  {name}: {module.parameters().Sum(x => x.numel()):N0}");
                return 0;
            }
        }));
        return cmd;
    }

}
