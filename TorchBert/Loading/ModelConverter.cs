using System.Diagnostics;
using TorchBert.Checkpoints;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Loading;

/// <summary>Options of <see cref="ModelConverter.Convert"/>.</summary>
public sealed record ConvertOptions
{
    /// <summary>dtype of the written weights: float32, float16, bfloat16 or float64 (<see cref="DTypeNames"/>).</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>Run source and result on a sample input and report the largest difference.</summary>
    public bool Verify { get; init; }
    /// <summary>Heads for an ONNX export whose graph doesn't say.</summary>
    public int? NumAttentionHeads { get; init; }
    /// <summary>Replace an existing, non-empty destination.</summary>
    public bool Overwrite { get; init; }
    /// <summary>Resolves a source that is not a local path (the embedded model, a Hub id); null = <see cref="ModelLocator.Default"/>.</summary>
    public ModelLocator? Locator { get; init; }
    /// <summary>Called after each tensor is written: (done, total, key).</summary>
    public Action<int, int, string>? Progress { get; init; }
}

/// <summary>What a conversion did.</summary>
public sealed class ConversionReport
{
    /// <summary>The source folder or file.</summary>
    public required string Source { get; init; }
    /// <summary>The source's checkpoint format (safetensors, torch zip, torch legacy, onnx, ...).</summary>
    public required string SourceFormat { get; init; }
    /// <summary>The folder written.</summary>
    public required string Destination { get; init; }
    /// <summary>The head class the weights were loaded into (e.g. BertModel, BertForMaskedLM).</summary>
    public required string Architecture { get; init; }
    /// <summary>Number of parameters written.</summary>
    public long Parameters { get; init; }
    /// <summary>Element type of the written weights.</summary>
    public ScalarType DType { get; init; }
    /// <summary>Number of tensors written.</summary>
    public int Tensors { get; init; }
    /// <summary>Size of the written <c>model.safetensors</c>.</summary>
    public long BytesWritten { get; init; }
    /// <summary>What loading the source did, key by key.</summary>
    public required LoadReport Load { get; init; }
    /// <summary>Other files copied beside the weights (tokenizer and sentence-transformers files).</summary>
    public List<string> CopiedFiles { get; } = [];
    /// <summary>Remarks for the user (e.g. skipped or synthesized files).</summary>
    public List<string> Notes { get; } = [];
    /// <summary>Largest |source − converted| over the sample outputs, when verified.</summary>
    public double? VerifyMaxAbsDiff { get; set; }
    /// <summary>Cosine of source and converted outputs, when verified.</summary>
    public double? VerifyCosine { get; set; }
    /// <summary>Wall time of the conversion.</summary>
    public TimeSpan Elapsed { get; set; }
}

/// <summary>
/// Any model folder or ONNX export TorchBert reads → a self-contained folder: config.json, model.safetensors under
/// canonical HF names (tied aliases omitted, as HF's safe serialization does), and every file that decides behaviour
/// (<see cref="ModelFolderFiles.BehaviourFilesIn"/>: tokenizer files, sentence-transformers' modules and configs). Written to a
/// temporary sibling folder and moved into place at the end, so a failure leaves the destination untouched.
/// </summary>
public static class ModelConverter
{
    /// <summary>Converts <paramref name="source"/> (any supported checkpoint folder or file) into a safetensors model folder at <paramref name="destination"/>, written atomically.</summary>
    public static ConversionReport Convert(string source, string destination, ConvertOptions? options = null)
    {
        options ??= new ConvertOptions();
        if (!DTypeNames.Supported.Contains(options.DType))
            throw new ArgumentException($"dtype {options.DType} is not supported ({string.Join(", ", DTypeNames.Supported.Select(DTypeNames.Name))})");
        NativeRuntime.EnsureLoaded();
        var clock = Stopwatch.StartNew();
        destination = Path.GetFullPath(destination);
        if (Directory.Exists(destination) && Directory.EnumerateFileSystemEntries(destination).Any() && !options.Overwrite)
            throw new IOException($"{destination} exists and is not empty; choose another destination or overwrite it");

        // a Hub id: fetch the sentence-transformers files with the rest, so the copy keeps them
        var locator = options.Locator ?? ModelLocator.Default;
        var local = locator.Resolve(source, null, ModelFolderFiles.WithSentenceTransformers());
        using var src = locator.Open(local, options.NumAttentionHeads);
        using var model = BuildModel(src);
        Pretrained.CheckDecoderConfig(model, source);
        var load = Pretrained.LoadWeights(model, src.Weights);
        model.eval();

        var temp = AtomicFile.StagingDirectory(destination);
        Directory.CreateDirectory(temp);
        try
        {
            // the single write path (model.SavePretrained): config.json with architectures and torch_dtype, model.safetensors
            // under canonical HF keys with the tied aliases omitted
            var bytes = model.SavePretrained(temp, options.DType, new Dictionary<string, string> { ["converted_by"] = "TorchBert" }, options.Progress);
            var tensorCount = ModelSaving.SavedTensors(model).Count;

            var report = new ConversionReport
            {
                Source = source, SourceFormat = src.Weights.Format, Destination = destination,
                Architecture = model.GetType().Name, Parameters = model.ParameterCount(), DType = options.DType,
                Tensors = tensorCount, BytesWritten = bytes, Load = load,
            };
            report.Notes.AddRange(src.Notes);
            // every file that decides behaviour (tokenizer and sentence-transformers files): one list, ModelFolderFiles
            foreach (var f in ModelFolderFiles.BehaviourFilesIn(src.Folder))
            {
                var to = Path.Combine(temp, f);
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(Path.Combine(src.Folder, f), to);
                report.CopiedFiles.Add(f);
            }
            if (!report.CopiedFiles.Any(f => f is "vocab.txt" or "tokenizer.json"))
                report.Notes.Add("no tokenizer files found beside the source (vocab.txt / tokenizer.json)");

            if (options.Verify) Verify(model, temp, report);
            AtomicFile.ReplaceDirectory(temp, destination);
            report.Elapsed = clock.Elapsed;
            return report;
        }
        catch
        {
            AtomicFile.TryDeleteDirectory(temp);
            throw;
        }
    }

    /// <summary>The class config.json's <c>architectures</c> names (<see cref="BertAutoModel.ForConfig"/>), uninitialised: LoadWeights fills it.</summary>
    private static BertPreTrainedModel BuildModel(ModelSource src)
    {
        var config = src.Config.Clone();
        config.AttnImplementation = AttentionImplementation.Sdpa;
        var names = src.Weights.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        using var loading = ModuleFactory.Uninitialized(CPU, ScalarType.Float32);
        return BertAutoModel.ForConfig(config).Build(config, names);
    }

    private static void Verify(BertPreTrainedModel source, string convertedDir, ConversionReport report)
    {
        using var converted = BertAutoModel.FromPretrained(convertedDir, new PretrainedOptions { Device = CPU, DType = report.DType });
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var (ids, mask) = SampleInput(source.Config);
        if (source is BertForMultipleChoice) (ids, mask) = (ids.unsqueeze(0), mask.unsqueeze(0));           // (1, C = 2, T)
        var a = Outputs(source, ids, mask);
        var b = Outputs(converted, ids, mask).to(ScalarType.Float32);
        report.VerifyMaxAbsDiff = (a - b).abs().max().item<float>();
        // in float64: float32 accumulation over ~10^5 values reports identical outputs as cosine 1.000014
        report.VerifyCosine = nn.functional.cosine_similarity(a.flatten().to(ScalarType.Float64), b.flatten().to(ScalarType.Float64), dim: 0).item<double>();
    }

    /// <summary>Every output tensor of the class (HF's named fields), flattened into one vector.</summary>
    private static Tensor Outputs(BertPreTrainedModel model, Tensor ids, Tensor mask)
    {
        using var o = model.Forward(new ForwardInputs { InputIds = ids, AttentionMask = mask });
        return cat(o.Named().Select(n => n.Value.to(ScalarType.Float32).flatten()).ToArray(), 0);
    }

    /// <summary>A fixed (2, 12) batch with the second row padded, ids inside the vocabulary.</summary>
    internal static (Tensor Ids, Tensor Mask) SampleInput(BertConfig config)
    {
        var t = Math.Min(12, config.MaxPositionEmbeddings);
        var ids = new long[2 * t];
        var mask = new long[2 * t];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = (i * 7919L + 101) % config.VocabSize;
            mask[i] = i < t || i < t + t / 2 ? 1 : 0;
        }
        return (tensor(ids, [2, t]), tensor(mask, [2, t]));
    }
}
