using System.CommandLine;
using System.Globalization;
using TorchBert.Analysis;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Pipelines;
using TorchBert.Plotting;

namespace TorchBert.Cli;

/// <summary>
/// <c>torchbert plot similarity|attention|positions|training</c>: the course's pictures. The numbers come from
/// <see cref="TokenSimilarity"/>, <see cref="AttentionMaps"/> and <see cref="TrainingCurves"/> (TorchBert.Core), the
/// pictures from <see cref="Figures"/> (TorchBert.Plotting); <c>--json</c> prints the plotted matrix.
/// </summary>
internal static class PlotCommands
{
    public static Command Command() =>
        new("plot", "draw token similarities, attention maps, position embeddings or training curves as .png/.svg")
        {
            Similarity(), Attention(), Positions(), Training(),
        };

    private static Option<string?> Out() => new("--out") { Description = "image file to write: FILE.png or FILE.svg" };
    private static Option<bool> Json() => new("--json") { Description = "print the plotted matrix (title, rows, columns, values) as JSON" };
    /// <summary>
    /// The model options of the plot commands, from the CLI's shared definitions (<see cref="CommonOptions"/>): --model,
    /// --revision, --dtype, --device.
    /// </summary>
    private sealed class PlotModel
    {
        public readonly Option<string?> Model = new("--model") { Description = "model folder (HF or converted), .onnx file or Hub id; default: the embedded all-MiniLM-L6-v2" };
        public readonly Option<string?> Revision = CommonOptions.Revision();
        public readonly Option<string?> DType = CommonOptions.DType();
        public readonly Option<string?> Device = CommonOptions.Device();

        public void AddTo(Command c) { c.Options.Add(Model); c.Options.Add(Revision); c.Options.Add(DType); c.Options.Add(Device); }

        /// <summary>The model (its options checked before the default model's first-use import) and its tokenizer.</summary>
        public BertModel Load(ParseResult p, out TorchBert.Tokenization.BertTokenizer tokenizer, AttentionImplementation? attention = null)
        {
            var options = new PretrainedOptions
            {
                AttnImplementation = attention, Revision = p.GetValue(Revision),
                DType = CommonOptions.ParseDType(p.GetValue(DType)), Device = CommonOptions.ParseDevice(p.GetValue(Device)),
            };
            var path = Cli.ModelOrDefault(p.GetValue(Model));
            var bert = BertModel.FromPretrained(path, options);
            try
            {
                CpuFeatures.WarnOnceIfSlow(bert.DType, bert.Device.type, StderrLogger.Instance);
                tokenizer = TokenizerLoader.ForModel(path, options.Revision);
            }
            catch { bert.Dispose(); throw; }
            return bert;
        }
    }
    private static Argument<string> Text() => new("text") { Description = "the sentence to look at" };
    private static Argument<string?> Pair() => new("pair") { Arity = ArgumentArity.ZeroOrOne, Description = "optional second sentence (shown after its [SEP])" };

    private static Command Similarity()
    {
        var (text, pair, model, json, output) = (Text(), Pair(), new PlotModel(), Json(), Out());
        var source = new Option<string>("--source") { Description = "embeddings (word embeddings alone) | hidden:N (HF hidden_states[N], 0 = embeddings output)", DefaultValueFactory = _ => "embeddings" };
        var metric = new Option<string>("--metric") { Description = "cosine | dot | softmax (softmax(E·Eᵀ) per row) | softmax:K (softmax(K·E·(K·E)ᵀ) per row)", DefaultValueFactory = _ => "cosine" };
        var cmd = new Command("similarity", "token × token similarity of one sentence (or a pair)") { text, pair, source, metric, json, output };
        model.AddTo(cmd);
        cmd.SetAction((p, ct) => Cli.Run(() =>
        {
            CheckTexts(p, text, pair);
            var src = VectorSource.Parse(p.GetValue(source)!);
            var m = SimilarityMetric.Parse(p.GetValue(metric)!);
            var path = OutputOrJson(p.GetValue(output), p.GetValue(json));
            using var bert = model.Load(p, out var tokenizer);
            var input = TokenInput.FromText(tokenizer, bert.Config, p.GetValue(text)!, p.GetValue(pair));
            var matrix = TokenSimilarity.Compute(bert, input, src, m);
            if (p.GetValue(json)) Cli.WriteJson(new { matrix.Title, Metric = m.ToString(), Source = src.ToString(), input.InputIds, matrix.Rows, matrix.Columns, matrix.Values });
            if (path is not null) Report(Figures.Heatmap(matrix, path), p.GetValue(json));
            return 0;
        }));
        return cmd;
    }

    private static Command Attention()
    {
        var (text, pair, model, json, output) = (Text(), Pair(), new PlotModel(), Json(), Out());
        var layer = new Option<string>("--layer") { Description = "layer number (from 0, as HF's attentions[L]) or 'all' (needs --head)", Required = true };
        var head = new Option<int?>("--head") { Description = "head number (from 0); without it, every head of the layer as a grid" };
        var cmd = new Command("attention", "attention probabilities: one head, the heads of a layer, or one head over the layers") { text, pair, layer, head, json, output };
        model.AddTo(cmd);
        cmd.SetAction((p, ct) => Cli.Run(() =>
        {
            CheckTexts(p, text, pair);
            var l = ParseLayer(p.GetValue(layer)!);
            var h = p.GetValue(head);
            if (l is null && h is null) throw new UsageException("--layer all needs --head H (one head over every layer)");
            var path = OutputOrJson(p.GetValue(output), p.GetValue(json));
            using var bert = model.Load(p, out var tokenizer, AttentionImplementation.Eager);
            CheckRange(l, bert.Config.NumHiddenLayers, "--layer", "layers");
            CheckRange(h, bert.Config.NumAttentionHeads, "--head", "heads per layer");
            var input = TokenInput.FromText(tokenizer, bert.Config, p.GetValue(text)!, p.GetValue(pair));
            var grid = AttentionMaps.Select(bert, input, l, h);
            if (p.GetValue(json))
            {
                if (grid.Panels.Count == 1) Cli.WriteJson(new { grid.Panels[0].Title, Layer = l, Head = h, input.InputIds, grid.Panels[0].Rows, grid.Panels[0].Columns, grid.Panels[0].Values });
                else Cli.WriteJson(new { grid.Title, Layer = l, Head = h, input.InputIds, Panels = grid.Panels.Select(x => new { x.Title, x.Rows, x.Columns, x.Values }) });
            }
            if (path is not null) Report(Figures.Grid(grid, path), p.GetValue(json));
            return 0;
        }));
        return cmd;
    }

    private static Command Positions()
    {
        var (model, json, output) = (new PlotModel(), Json(), Out());
        var first = new Option<int?>("--first") { Description = "only the first N positions (default: all max_position_embeddings)" };
        var cmd = new Command("positions", "cosine similarity of the position embeddings (position × position)") { first, json, output };
        model.AddTo(cmd);
        cmd.SetAction((p, ct) => Cli.Run(() =>
        {
            var path = OutputOrJson(p.GetValue(output), p.GetValue(json));
            using var bert = model.Load(p, out _);
            if (p.GetValue(first) is { } n && (n < 1 || n > bert.Config.MaxPositionEmbeddings))
                throw new UsageException($"--first {n} is out of range: the model has {bert.Config.MaxPositionEmbeddings} positions (1..{bert.Config.MaxPositionEmbeddings})");
            var matrix = TokenSimilarity.Positions(bert, p.GetValue(first));
            if (p.GetValue(json)) Cli.WriteJson(new { matrix.Title, Metric = "cosine", matrix.Rows, matrix.Columns, matrix.Values });
            if (path is not null) Report(Figures.Heatmap(matrix, path), p.GetValue(json));
            return 0;
        }));
        return cmd;
    }

    private static Command Training()
    {
        var (json, output) = (Json(), Out());
        var log = new Argument<string>("log") { Description = "training_log.jsonl (one HF log_history entry per line)" };
        var cmd = new Command("training", "loss (training and evaluation) and learning rate against the step, from a training log") { log, json, output };
        cmd.SetAction((p, ct) => Cli.Run(() =>
        {
            var path = OutputOrJson(p.GetValue(output), p.GetValue(json));
            var curves = TrainingCurves.Read(p.GetValue(log)!);
            if (p.GetValue(json))
            {
                var columns = curves.Columns();
                var rows = curves.Entries.Select(e => columns.Select(c => c switch
                {
                    "step" => (double?)e.Step,
                    "epoch" => e.Epoch,
                    _ => e.Values.TryGetValue(c, out var v) ? v : null,
                }).ToArray());
                Cli.WriteJson(new { Source = curves.Source, Columns = columns, Rows = rows });
            }
            if (path is not null) Report(Figures.Training(curves, path), p.GetValue(json));
            return 0;
        }));
        return cmd;
    }

    /// <summary>--out, checked before any slow work; null with --json alone.</summary>
    private static string? OutputOrJson(string? output, bool json)
    {
        if (output is null && !json) throw new UsageException("give --out FILE.png|FILE.svg (or --json to print the matrix)");
        if (output is not null)
        {
            Cli.CheckOutputFile(output, "--out");
            Figures.CheckPath(output);
        }
        return output;
    }

    private static void CheckTexts(ParseResult p, Argument<string> text, Argument<string?> pair) =>
        Cli.CheckTexts(p.GetValue(pair) is { } second ? [p.GetValue(text)!, second] : [p.GetValue(text)!]);

    private static int? ParseLayer(string s)
    {
        if (s.Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        if (int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        throw new UsageException($"--layer must be a layer number or 'all', got '{s}'");
    }

    private static void CheckRange(int? value, int count, string option, string what)
    {
        if (value is { } v && (v < 0 || v >= count))
            throw new UsageException($"{option} {v} is out of range: the model has {count} {what} (0..{count - 1})");
    }

    private static void Report(FigureInfo figure, bool json)
    {
        var line = $"wrote {figure.Path} ({figure.Width}×{figure.Height})";
        if (json) Console.Error.WriteLine($"torchbert: {line}");
        else Console.WriteLine(line);
    }
}
