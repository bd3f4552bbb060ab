using Microsoft.ML.OnnxRuntime;
using TorchBert.Configuration;
using TorchBert.Modeling;
using TorchBert.Onnx;

namespace TorchBert.Tests.OrtParity;

/// <summary>
/// Once per test class: the embedded all-MiniLM-L6-v2 extracted to a temporary directory, two TorchBert
/// <see cref="BertModel"/>s loaded from it (SDPA and eager attention), an ONNX Runtime session on the unmodified
/// model.onnx, and — on first use — a session on a copy whose graph also outputs the embeddings and every layer's output.
/// </summary>
public sealed class OrtParityFixture : IDisposable
{
    private readonly SessionOptions _options;
    private readonly Lazy<InferenceSession> _exposed;

    public OrtParityFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("torchbert-ortparity-").FullName;
        ModelPath = EmbeddedMiniLM.ExtractTo(Directory);
        foreach (var (word, id) in File.ReadLines(Path.Combine(Directory, "vocab.txt")).Select((w, i) => (w, i)))
            Vocab.TryAdd(word, id);

        using (var import = OnnxBertImporter.Import(ModelPath))
        {
            Config = import.Config;
            HasPooler = import.HasPooler;
            Sdpa = Build(import, AttentionImplementation.Sdpa);
            Eager = Build(import, AttentionImplementation.Eager);
        }

        using (var model = OnnxModel.Open(ModelPath))
        {
            var index = new OnnxGraphIndex(model);
            var names = new List<string> { LayerNormOutput(index, "embeddings.LayerNorm.bias") };
            for (var i = 0; i < Config.NumHiddenLayers; i++)
                names.Add(LayerNormOutput(index, $"encoder.layer.{i}.output.LayerNorm.bias"));
            HiddenStateValues = names;
        }

        _options = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 };
        Session = new InferenceSession(ModelPath, _options);
        _exposed = new Lazy<InferenceSession>(() =>
            new InferenceSession(OnnxOutputExposer.Expose(File.ReadAllBytes(ModelPath), HiddenStateValues, file: ModelPath), _options));
    }

    public string Directory { get; }
    public string ModelPath { get; }
    public BertConfig Config { get; }
    public bool HasPooler { get; }
    public Dictionary<string, long> Vocab { get; } = new(StringComparer.Ordinal);
    public BertModel Sdpa { get; }
    public BertModel Eager { get; }
    public BertModel Model(AttentionImplementation attn) => attn == AttentionImplementation.Sdpa ? Sdpa : Eager;

    /// <summary>ORT on the unmodified model.onnx.</summary>
    public InferenceSession Session { get; }

    /// <summary>ORT on model.onnx with <see cref="HiddenStateValues"/> added as graph outputs (built on first use).</summary>
    public InferenceSession ExposedSession => _exposed.Value;

    /// <summary>Graph value names in HF hidden_states order: [0] the embeddings' LayerNorm output, [i] layer i-1's output.</summary>
    public IReadOnlyList<string> HiddenStateValues { get; }

    /// <summary>Ids of whole words in vocab.txt (bert-base-uncased); throws on a word the vocab lacks.</summary>
    public long[] Ids(string text) =>
        text.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => Vocab.TryGetValue(w, out var id) ? id : throw new KeyNotFoundException($"'{w}' is not in vocab.txt"))
            .ToArray();

    private static BertModel Build(OnnxBertImport import, AttentionImplementation attn)
    {
        var config = import.Config.Clone();
        config.AttnImplementation = attn;
        var model = new BertModel(config, import.HasPooler, initWeights: false); // every weight is overwritten below
        var report = Pretrained.LoadWeights(model, import.Weights);
        if (report.Unexpected.Count > 0)
            throw new InvalidOperationException($"unexpected keys: {string.Join(", ", report.Unexpected)}");
        model.eval();
        return model;
    }

    /// <summary>The output of the (decomposed) LayerNorm ending in Add(·, <paramref name="bias"/>).</summary>
    private static string LayerNormOutput(OnnxGraphIndex index, string bias)
    {
        var adds = index.Consumers(bias).Where(n => n.OpType == "Add").ToList();
        if (adds.Count != 1)
            throw new InvalidOperationException($"expected one Add consuming '{bias}', found {adds.Count}: {string.Join("; ", adds)}");
        return adds[0].Outputs[0];
    }

    public void Dispose()
    {
        if (_exposed.IsValueCreated) _exposed.Value.Dispose();
        Session.Dispose();
        _options.Dispose();
        Sdpa.Dispose();
        Eager.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}
