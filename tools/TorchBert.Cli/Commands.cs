using System.CommandLine;
using TorchBert.Configuration;
using TorchBert.Loading;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Tokenization;
using TorchSharp;

namespace TorchBert.Cli;

/// <summary>The subcommands. Each is thin: parse, call the library, print.</summary>
internal static class Commands
{
    public static IEnumerable<Command> All() => [FillMask(), Embed(), Similarity(), Tokenize(), Inspect(), Forward.Command(), Convert(), TrainingCommands.Train(), TrainingCommands.Evaluate(), PlotCommands.Command(), .. HubCommands.All(), .. TaskCommands.All(), ServeCommand.Command()];

    private static Option<string?> ModelOption() => new("--model") { Description = "model folder (HF or converted), .onnx file or Hub id; default: the embedded all-MiniLM-L6-v2" };
    private static Option<bool> JsonOption() => new("--json") { Description = "print JSON" };
    private static Argument<string[]> Texts(string name = "text") => new(name) { Arity = ArgumentArity.OneOrMore, Description = "input text(s)" };

    private static Command FillMask()
    {
        var model = ModelOption();
        var topK = new Option<int>("--top-k") { Description = "candidates per mask", DefaultValueFactory = _ => 5 };
        var targets = new Option<string?>("--targets") { Description = "comma-separated words to rank instead of the whole vocabulary" };
        var json = JsonOption();
        var verbose = new Option<bool>("--verbose") { Description = "show the tensors flowing through preprocess → forward → postprocess" };
        var texts = Texts();
        var cmd = new Command("fill-mask", "predict [MASK] tokens (HF fill-mask pipeline)") { model, topK, targets, json, verbose, texts };
        var truncation = new TaskCommands.RunOptions();
        truncation.AddTo(cmd);
        cmd.SetAction(p => Cli.Run(() =>
        {
            var inputs = p.GetValue(texts)!;
            var targetList = p.GetValue(targets)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            using var pipe = FillMaskPipeline.FromPretrained(Cli.MlmModel(p.GetValue(model)),
                truncation.Options(p, p.GetValue(verbose)), p.GetValue(topK), targetList);
            foreach (var w in pipe.Warnings) Console.Error.WriteLine($"torchbert: warning: {w}");
            var results = pipe.Run(inputs);
            if (p.GetValue(json))
            {
                // HF's shapes: one mask → a list of candidates; several → a list per mask; several inputs → a list per input.
                object Shape(IReadOnlyList<IReadOnlyList<FillMaskResult>> r) => r.Count == 1 ? r[0] : r;
                Cli.WriteJson(results.Count == 1 ? Shape(results[0]) : results.Select(Shape).ToList());
                return 0;
            }
            for (int i = 0; i < inputs.Length; i++)
            {
                Console.WriteLine(inputs[i]);
                for (int m = 0; m < results[i].Count; m++)
                {
                    if (results[i].Count > 1) Console.WriteLine($"  mask {m + 1}:");
                    foreach (var c in results[i][m])
                        Console.WriteLine($"  {c.Score,8:F4}  {c.TokenStr,-14} {c.Sequence}");
                }
            }
            return 0;
        }));
        return cmd;
    }

    private static Command Embed()
    {
        var model = ModelOption();
        var json = JsonOption();
        var texts = Texts();
        texts.Arity = ArgumentArity.ZeroOrMore;
        var cmd = new Command("embed", "sentence embeddings as sentence-transformers' encode (the folder's pooling, normalization, prompts, max_seq_length)") { model, json, texts };
        var truncation = new TaskCommands.RunOptions();
        truncation.AddTo(cmd);
        var sentence = new SentenceOptions();
        sentence.AddTo(cmd);
        var io = new TaskCommands.Io();
        io.AddTo(cmd);
        var corpus = new CorpusOptions();
        corpus.AddTo(cmd);
        cmd.SetAction(p => Cli.Run(() =>
        {
            var overrides = sentence.Options(p);
            var inputs = p.GetValue(texts)!;
            if (p.GetValue(io.Input) is not null || p.GetValue(io.Output) is not null || corpus.Requested(p, null))
            {
                if (inputs.Length > 0) throw new UsageException("give texts either on the command line or with --input, not both");
                var name = Cli.ModelOrDefault(p.GetValue(model));
                using var job = SentenceEmbeddingPipeline.FromPretrained(name, truncation.Options(p), overrides);
                return corpus.Run(p, new Corpus.EmbeddingCorpusTask(job), p.GetValue(io.Input), p.GetValue(io.Output), name);
            }
            if (inputs.Length == 0) throw new UsageException("give texts, or --input FILE.jsonl --output DIR/ for a corpus job");
            using var pipe = SentenceEmbeddingPipeline.FromPretrained(Cli.ModelOrDefault(p.GetValue(model)), truncation.Options(p), overrides);
            var vectors = pipe.Run(inputs, sentence.Parameters(p));
            if (p.GetValue(json)) { Cli.WriteJson(vectors); return 0; }
            for (int i = 0; i < inputs.Length; i++)
                Console.WriteLine($"{inputs[i]}\n  [{vectors[i].Length}] {string.Join(", ", vectors[i].Take(8).Select(v => v.ToString("0.0000")))}, ...");
            return 0;
        }));
        return cmd;
    }

    private static Command Similarity()
    {
        var model = ModelOption();
        var json = JsonOption();
        var texts = Texts();
        texts.Arity = new ArgumentArity(2, 100_000);
        var cmd = new Command("similarity", "cosine similarity matrix of sentence embeddings (the model folder's pooling)") { model, json, texts };
        var truncation = new TaskCommands.RunOptions();
        truncation.AddTo(cmd);
        var sentence = new SentenceOptions();
        sentence.AddTo(cmd);
        cmd.SetAction(p => Cli.Run(() =>
        {
            var inputs = p.GetValue(texts)!;
            var overrides = sentence.Options(p);
            using var pipe = SentenceEmbeddingPipeline.FromPretrained(Cli.ModelOrDefault(p.GetValue(model)), truncation.Options(p), overrides);
            var matrix = Pipelines.Similarity.Matrix(pipe.Run(inputs, sentence.Parameters(p)));
            if (p.GetValue(json)) { Cli.WriteJson(new { sentences = inputs, similarity = matrix }); return 0; }
            for (int i = 0; i < inputs.Length; i++) Console.WriteLine($"[{i}] {inputs[i]}");
            Console.WriteLine("     " + string.Concat(inputs.Select((_, j) => $"{$"[{j}]",8}")));
            for (int i = 0; i < inputs.Length; i++)
                Console.WriteLine($"{$"[{i}]",5}" + string.Concat(matrix[i].Select(v => $"{v,8:F4}")));
            return 0;
        }));
        return cmd;
    }

    private static Command Tokenize()
    {
        var model = ModelOption();
        var json = JsonOption();
        var maxLength = new Option<int?>("--max-length") { Description = "truncate (longest_first) to this many tokens" };
        var text = new Argument<string>("text") { Description = "text to tokenize" };
        var pair = new Argument<string?>("pair") { Arity = ArgumentArity.ZeroOrOne, Description = "optional second text (sentence pair)" };
        var revision = HubCommands.RevisionOption();
        var cmd = new Command("tokenize", "HF tokenizer output: input_ids, token_type_ids, attention_mask, tokens") { model, revision, json, maxLength, text, pair };
        cmd.SetAction(p => Cli.Run(() =>
        {
            var tokenizer = TokenizerLoader.ForModel(Cli.ModelOrDefault(p.GetValue(model)), p.GetValue(revision));
            var max = p.GetValue(maxLength);
            if (max is <= 0) throw new UsageException($"--max-length must be > 0, got {max}");
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
        var model = ModelOption();
        var config = new Option<string?>("--config") { Description = "a config.json: print the architecture it describes (no weights)" };
        var json = JsonOption();
        var revision = HubCommands.RevisionOption();
        var cmd = new Command("inspect", "the PyTorch-style module tree and parameter counts") { model, revision, config, json };
        cmd.SetAction(p => Cli.Run(() =>
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

    private static Command Convert()
    {
        var src = new Argument<string>("src") { Description = "HF folder (safetensors, sharded, pytorch_model.bin) or ONNX export (.onnx or folder)" };
        var dst = new Argument<string>("dst") { Description = "output folder (e.g. weights/bert-base-uncased)" };
        var dtype = new Option<string>("--dtype") { Description = "float32 | float16 | bfloat16", DefaultValueFactory = _ => "float32" };
        var verify = new Option<bool>("--verify") { Description = "run source and result on a sample input and print the max difference" };
        var heads = new Option<int?>("--heads") { Description = "attention heads, for ONNX exports whose graph doesn't say" };
        var force = new Option<bool>("--force") { Description = "replace a non-empty destination" };
        var json = JsonOption();
        var cmd = new Command("convert", "convert a model to a self-contained TorchBert folder (config.json, model.safetensors, tokenizer)") { src, dst, dtype, verify, heads, force, json };
        cmd.SetAction(p => Cli.Run(() => Conversion.Run(p.GetValue(src)!, p.GetValue(dst)!, p.GetValue(dtype)!, p.GetValue(verify), p.GetValue(heads), p.GetValue(force), p.GetValue(json))));
        return cmd;
    }
}
