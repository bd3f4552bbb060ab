using static TorchBert.Tests.Onnx.OnnxBuilder;

namespace TorchBert.Tests.Onnx;

/// <summary>
/// Writes a tiny BERT-shaped ONNX graph the way exporters lay it out (vocab 11, hidden 8, 2 heads, intermediate 12,
/// max_pos 16, 2 layers). Only the structure the importer reads is modeled; it is not meant to run.
/// Every HF weight W[out, in] has the known values <see cref="Value"/>.
/// </summary>
internal sealed class TinyBertOnnx
{
    public const int Vocab = 11, Hidden = 8, Heads = 2, Inter = 12, MaxPos = 16, Layers = 2;

    public string Prefix { get; init; } = "";
    /// <summary>"erf", "tanh", "gelu-op", "relu" or "none".</summary>
    public string Activation { get; init; } = "erf";
    public bool FusedLayerNorm { get; init; }
    public float Eps { get; init; } = 1e-12f;
    public bool Pooler { get; init; } = true;
    /// <summary>"const" ([0, 0, H, D] initializer), "concat" (Concat of computed sizes and constants) or "none".</summary>
    public string HeadsReshape { get; init; } = "concat";
    /// <summary>Linears that use Gemm(transB=0) instead of MatMul + Add.</summary>
    public bool GemmLinears { get; init; }
    /// <summary>Keep a Transpose node in front of named [out, in] weights (no constant folding).</summary>
    public bool UnfoldedTranspose { get; init; }
    /// <summary>Feed layer 0's query bias into an Add with a graph input instead of a MatMul output.</summary>
    public bool BreakQueryBias { get; init; }
    /// <summary>A task head outside the prefix: "classifier" (on the pooler), "token-classifier" (classifier on every token),
    /// "qa_outputs" or "cls.seq_relationship"; null = none.</summary>
    public string? Head { get; init; }
    /// <summary>The head's output size.</summary>
    public int HeadOutputs { get; init; } = 3;
    /// <summary>input_ids declared (batch, choices, sequence), as a multiple-choice export.</summary>
    public bool ChoicesInput { get; init; }

    /// <summary>The HF value of element [o, i] of the weight <paramref name="key"/>.</summary>
    public static float Value(string key, long o, long i) => key.Sum(c => c) % 97 / 97f + o * 0.01f + i * 0.0001f;

    private readonly List<ProtoWriter> _nodes = new();
    private readonly List<ProtoWriter> _inits = new();
    private int _next;

    public byte[] Build()
    {
        Named("embeddings.word_embeddings.weight", Vocab, Hidden);
        Named("embeddings.position_embeddings.weight", MaxPos, Hidden);
        Named("embeddings.token_type_embeddings.weight", 2, Hidden);
        _inits.Add(Int64Tensor(Prefix + "embeddings.position_ids", Enumerable.Range(0, MaxPos).Select(i => (long)i).ToArray()));
        var h = Node("Gather", Prefix + "embeddings.word_embeddings.weight", "input_ids");
        h = LayerNorm(h, "embeddings.LayerNorm");
        for (var l = 0; l < Layers; l++)
        {
            var p = $"encoder.layer.{l}.";
            var q = Linear(h, p + "attention.self.query", Hidden, Hidden, swapAdd: false, broken: BreakQueryBias && l == 0);
            var k = Linear(h, p + "attention.self.key", Hidden, Hidden, swapAdd: true);
            var v = Linear(h, p + "attention.self.value", Hidden, Hidden);
            var qs = SplitHeads(q);
            var ctx = Node("MatMul", Node("MatMul", qs, SplitHeads(k)), SplitHeads(v));
            var a = Linear(ctx, p + "attention.output.dense", Hidden, Hidden);
            a = LayerNorm(Node("Add", a, h), p + "attention.output.LayerNorm");
            var i = Linear(a, p + "intermediate.dense", Inter, Hidden);
            i = Activation switch
            {
                "erf" => Node("Mul", i, Node("Add", Node("Erf", Node("Div", i, Scalar(1.4142135f))), Scalar(1f))),
                "tanh" => Node("Mul", i, Node("Add", Node("Tanh", Node("Mul", i, Scalar(0.7978846f))), Scalar(1f))),
                "gelu-op" => Node("Gelu", i),
                "relu" => Node("Relu", i),
                _ => i,
            };
            var o = Linear(i, p + "output.dense", Hidden, Inter);
            h = LayerNorm(Node("Add", o, a), p + "output.LayerNorm");
        }
        string? pooled = null;
        if (Pooler)
        {
            Named("pooler.dense.weight", Hidden, Hidden);
            Named("pooler.dense.bias", Hidden);
            var first = Node("Gather", h, Scalar(0L));
            pooled = Node("Tanh", Node("Gemm", [first, Prefix + "pooler.dense.weight", Prefix + "pooler.dense.bias"], IntAttr("transB", 1)));
        }
        var input = ChoicesInput ? ValueInfo("input_ids", 7, "batch", "choices", "sequence") : ValueInfo("input_ids", 7, "batch", "sequence");
        var output = ValueInfo(h, 1, "batch", "sequence", "8");
        if (Head is { } head)
        {
            // Exporters name head tensors by module path without the base prefix; a 2-D input becomes a Gemm with the
            // named [out, in] weight, a 3-D one MatMul + Add with an anonymous [in, out] weight.
            var module = head == "token-classifier" ? "classifier" : head;
            if (head is "classifier" or "cls.seq_relationship")
            {
                var w = Named(module + ".weight", unprefixed: true, HeadOutputs, Hidden);
                var b = Named(module + ".bias", unprefixed: true, HeadOutputs);
                output = ValueInfo(Node("Gemm", [pooled!, w, b], IntAttr("transB", 1)), 1, "batch", $"{HeadOutputs}");
            }
            else output = ValueInfo(Linear(h, module, HeadOutputs, Hidden, unprefixed: true), 1, "batch", "sequence", $"{HeadOutputs}");
        }
        return Model(_nodes, _inits, [input], [output]);
    }

    private string Linear(string x, string module, int outF, int inF, bool swapAdd = false, bool broken = false, bool unprefixed = false)
    {
        var bias = Named(module + ".bias", unprefixed, outF);
        var w = new float[outF * inF];
        if (UnfoldedTranspose)
        {
            var named = Named(module + ".weight", outF, inF);
            return Node("Add", Node("MatMul", x, Node("Transpose", [named], IntsAttr("perm", 1, 0))), bias);
        }
        for (var i = 0; i < inF; i++)
            for (var o = 0; o < outF; o++) w[i * outF + o] = Value(module + ".weight", o, i); // stored [in, out]
        var anon = $"onnx::MatMul_{1000 + _next++}";
        _inits.Add(FloatTensor(anon, [inF, outF], w));
        if (GemmLinears) return Node("Gemm", [x, anon, bias], IntAttr("transB", 0));
        var mm = broken ? "input_ids" : Node("MatMul", x, anon);
        return swapAdd ? Node("Add", mm, bias) : Node("Add", bias, mm);
    }

    private string LayerNorm(string x, string module)
    {
        var w = Named(module + ".weight", Hidden);
        var b = Named(module + ".bias", Hidden);
        if (FusedLayerNorm) return Node("LayerNormalization", [x, w, b], FloatAttr("epsilon", Eps), IntAttr("axis", -1));
        var d = Node("Sub", x, Node("ReduceMean", [x], IntsAttr("axes", -1)));
        var variance = Node("ReduceMean", [Node("Pow", d, Scalar(2f))], IntsAttr("axes", -1));
        var n = Node("Div", d, Node("Sqrt", Node("Add", variance, Scalar(Eps))));
        return Node("Add", Node("Mul", n, w), b);
    }

    private string SplitHeads(string x)
    {
        string shape;
        if (HeadsReshape == "const")
        {
            shape = $"{2000 + _next++}";
            _inits.Add(Int64Tensor(shape, 0, 0, Heads, Hidden / Heads));
        }
        else if (HeadsReshape == "concat")
        {
            var batch = Node("Unsqueeze", Node("Gather", Node("Shape", x), Scalar(0L)), Scalar(0L));
            var seq = Node("Unsqueeze", Node("Gather", Node("Shape", x), Scalar(1L)), Scalar(0L));
            var heads = $"{2000 + _next++}";
            var size = $"{2000 + _next++}";
            _inits.Add(Int64Tensor(heads, Heads));
            _inits.Add(Int64Tensor(size, Hidden / Heads));
            shape = Node("Concat", [batch, seq, heads, size], IntAttr("axis", 0));
        }
        else return Node("Identity", x);
        return Node("Transpose", [Node("Reshape", x, shape)], IntsAttr("perm", 0, 2, 1, 3));
    }

    private string Named(string key, params long[] dims) => Named(key, unprefixed: false, dims);

    private string Named(string key, bool unprefixed, params long[] dims)
    {
        var values = new float[dims.Aggregate(1L, (a, b) => a * b)];
        var inner = dims.Length == 2 ? dims[1] : 1;
        for (var j = 0; j < values.Length; j++) values[j] = Value(key, j / inner, j % inner);
        var name = unprefixed ? key : Prefix + key;
        _inits.Add(FloatTensor(name, dims, values));
        return name;
    }

    /// <summary>A Constant node holding a scalar.</summary>
    private string Scalar(float v) =>
        Const(new ProtoWriter().Varint(2, 1).Bytes(9, BitConverter.GetBytes(v)));

    private string Scalar(long v) => Const(new ProtoWriter().Varint(2, 7).Packed(7, [v]));

    private string Const(ProtoWriter tensor)
    {
        var name = $"c{_next++}";
        _nodes.Add(OnnxBuilder.Node("Constant", [], [name], null, TensorAttr("value", tensor)));
        return name;
    }

    private string Node(string op, params string[] inputs) => Node(op, inputs, []);

    private string Node(string op, string[] inputs, params ProtoWriter[] attributes)
    {
        var output = $"t{_next++}";
        _nodes.Add(OnnxBuilder.Node(op, inputs, [output], $"{op}_{_next}", attributes));
        return output;
    }
}
