using System.Text.Json;
using TorchBert.Tests.Support;
using static TorchSharp.torch;

namespace TorchBert.Tests.Embeddings;

/// <summary>
/// sentence-transformers model folders built from tiny-bert-mlm's BertModel weights, and sentence vectors computed
/// independently from HF's recorded <c>last_hidden_state</c> (expected.safetensors) with sentence-transformers'
/// <c>Pooling.forward</c> / <c>Normalize</c> / <c>truncate_dim</c> arithmetic in plain double loops.
/// The recorded rows 1 and 2 are single sequences; the folders' vocab.txt names token 24019 ('##flies' in the
/// fixture) 'flieszz', so <see cref="Row1Text"/> / <see cref="Row2Text"/> tokenize to exactly the recorded ids.
/// </summary>
public sealed class StFolders : IDisposable
{
    /// <summary>[CLS] ア [MASK] flieszz oneself detectors [SEP] = recorded row 1 (ids 101 1693 103 24019 25763 25971 102).</summary>
    public const string Row1Text = "ア [MASK] flieszz oneself detectors";
    /// <summary>[CLS] join jacob [SEP] = recorded row 2 (ids 101 3693 6213 102).</summary>
    public const string Row2Text = "join jacob";

    public string Root { get; } = Directory.CreateTempSubdirectory("torchbert-st-").FullName;
    private readonly string vocab;
    private int count;

    public StFolders()
    {
        var lines = File.ReadAllLines(Path.Combine(Fixtures.Dir("tiny-bert-mlm"), "vocab.txt"));
        lines[24019].Should().Be("##flies");
        lines.Should().NotContain("flieszz");
        lines[24019] = "flieszz";
        vocab = Path.Combine(Root, "vocab.txt");
        File.WriteAllLines(vocab, lines);
        var e = Fixtures.Expected("tiny-bert-mlm");
        var h = e["last_hidden_state"];                                   // (3, 11, 32)
        var all = h.data<float>().ToArray();
        var mask = e["attention_mask"].data<long>().ToArray();
        Ids = e["input_ids"].data<long>().ToArray();
        Hidden = new double[2][][];
        for (int r = 0; r < 2; r++)
        {
            var row = r + 1;
            var tokens = mask.Skip(row * 11).Take(11).Count(m => m != 0);
            Hidden[r] = Enumerable.Range(0, tokens).Select(t => all.AsSpan((row * 11 + t) * 32, 32).ToArray().Select(x => (double)x).ToArray()).ToArray();
        }
    }

    /// <summary>Recorded input ids (3 × 11).</summary>
    public long[] Ids { get; }

    /// <summary>HF's last_hidden_state of recorded rows 1 and 2, unpadded: [row][token][32].</summary>
    public double[][][] Hidden { get; }

    /// <summary>
    /// A model folder: tiny-bert-mlm's config.json and model.safetensors (linked), the adjusted vocab.txt, and the given
    /// sentence-transformers files (relative path → JSON value; null = absent).
    /// </summary>
    public string Folder(IReadOnlyDictionary<string, object?> files)
    {
        var dir = Path.Combine(Root, $"m{Interlocked.Increment(ref count)}");
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.CreateSymbolicLink(Path.Combine(dir, f), Path.Combine(Fixtures.Dir("tiny-bert-mlm"), f));
        File.Copy(vocab, Path.Combine(dir, "vocab.txt"));
        foreach (var (name, value) in files)
        {
            if (value is null) continue;
            var path = Path.Combine(dir, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, value as string ?? JsonSerializer.Serialize(value));
        }
        return dir;
    }

    /// <summary>modules.json: Transformer at the root, Pooling in 1_Pooling, Normalize in 2_Normalize when asked.</summary>
    public static object[] Modules(bool normalize) =>
    [
        new { idx = 0, name = "0", path = "", type = "sentence_transformers.models.Transformer" },
        new { idx = 1, name = "1", path = "1_Pooling", type = "sentence_transformers.models.Pooling" },
        .. normalize ? new object[] { new { idx = 2, name = "2", path = "2_Normalize", type = "sentence_transformers.models.Normalize" } } : [],
    ];

    /// <summary>1_Pooling/config.json with the given pooling_mode_* keys true (all six keys written, as sentence-transformers saves them).</summary>
    public static Dictionary<string, object> PoolingConfig(params string[] modes)
    {
        var c = new Dictionary<string, object> { ["word_embedding_dimension"] = 32 };
        foreach (var key in new[] { "pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken" })
            c[key] = modes.Contains(key);
        return c;
    }

    /// <summary>An ST folder with one Pooling config, with or without Normalize, plus extra files.</summary>
    public string StFolder(Dictionary<string, object> pooling, bool normalize, params (string File, object? Json)[] extra)
    {
        var files = new Dictionary<string, object?> { ["modules.json"] = Modules(normalize), ["1_Pooling/config.json"] = pooling };
        foreach (var (f, j) in extra) files[f] = j;
        return Folder(files);
    }

    // ------------------------------------------------------------------ sentence-transformers' arithmetic

    /// <summary>Pooling.forward for one unpadded row; <paramref name="masked"/> leading positions are left out (include_prompt = false).</summary>
    public static double[] Pool(string mode, double[][] tokens, int masked = 0)
    {
        int n = tokens.Length, h = tokens[0].Length;
        var mask = Enumerable.Range(0, n).Select(t => t < masked ? 0.0 : 1.0).ToArray();
        var v = new double[h];
        switch (mode)
        {
            case "pooling_mode_cls_token":
                return tokens[0].ToArray();
            case "pooling_mode_max_tokens":
                for (int j = 0; j < h; j++) v[j] = Enumerable.Range(0, n).Max(t => mask[t] == 0 ? -1e9 : tokens[t][j]);
                return v;
            case "pooling_mode_mean_tokens":
            case "pooling_mode_mean_sqrt_len_tokens":
            {
                var count = Math.Max(mask.Sum(), 1e-9);
                for (int j = 0; j < h; j++) v[j] = Enumerable.Range(0, n).Sum(t => tokens[t][j] * mask[t]);
                var div = mode == "pooling_mode_mean_tokens" ? count : Math.Sqrt(count);
                return v.Select(x => x / div).ToArray();
            }
            case "pooling_mode_weightedmean_tokens":
            {
                var w = Enumerable.Range(0, n).Select(t => mask[t] * (t + 1)).ToArray();
                for (int j = 0; j < h; j++) v[j] = Enumerable.Range(0, n).Sum(t => tokens[t][j] * w[t]);
                var sum = Math.Max(w.Sum(), 1e-9);
                return v.Select(x => x / sum).ToArray();
            }
            case "pooling_mode_lasttoken":
            {
                // argmin of the (modified) mask gives its first 0; no 0 → the whole row; minus one, clamped at 0
                var firstZero = Array.IndexOf(mask, 0.0);
                var last = Math.Max((firstZero < 0 ? n : firstZero) - 1, 0);
                return tokens[last].Select(x => x * mask[last]).ToArray();
            }
            default:
                throw new ArgumentException(mode);
        }
    }

    /// <summary>torch.nn.functional.normalize(p=2, eps=1e-12).</summary>
    public static double[] Normalize(double[] v)
    {
        var norm = Math.Max(Math.Sqrt(v.Sum(x => x * x)), 1e-12);
        return v.Select(x => x / norm).ToArray();
    }

    public static void Close(float[] actual, double[] expected, double tolerance, string because)
    {
        actual.Should().HaveCount(expected.Length, because);
        for (int i = 0; i < expected.Length; i++)
            ((double)actual[i]).Should().BeApproximately(expected[i], tolerance, $"{because} (dimension {i})");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
