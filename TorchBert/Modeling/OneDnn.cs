using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>Activations oneDNN applies inside the matrix product (its post-ops), as <c>mkldnn::_linear_pointwise</c> names them.</summary>
internal enum FusedActivation
{
    None,
    Gelu,     // exact (erf) GELU: HF "gelu"
    GeluTanh, // tanh approximation: HF "gelu_new", "gelu_pytorch_tanh"
    Relu,
    Swish,    // x·sigmoid(x): HF "silu"/"swish"
    Tanh,
}

/// <summary>
/// libtorch's oneDNN linear ops, the ones TorchInductor uses on CPU: <c>mkldnn::_reorder_linear_weight</c> packs a
/// (out, in) weight once into oneDNN's blocked layout for this CPU's ISA (AVX-512 where present, unlike the MKL GEMM
/// behind <c>F.linear</c>, which runs its AVX2 path on AMD), and <c>mkldnn::_linear_pointwise</c> runs x·Wᵀ + b with
/// an activation (or a residual add) fused. TorchSharp 0.107 has no <c>torch.ops</c> call and its
/// <c>torch.jit.compile</c> resolves only aten ops, so the ops are reached through a TorchScript module built here in
/// memory (the zip that <c>torch.jit.save</c> writes: <c>code/__torch__.py</c>, <c>data.pkl</c>, <c>constants.pkl</c>,
/// <c>version</c>) and loaded with <c>torch.jit.load(bytes)</c>, whose source importer resolves <c>ops.mkldnn.*</c>.
/// An unknown op makes that import abort the process (not a .NET exception), so the archive is loaded only after
/// libtorch_cpu is seen to export the op's implementation, and the ops are then checked against <c>F.linear</c>.
/// </summary>
internal sealed class OneDnn
{
    // Serialized TorchScript (the dialect torch.jit.save writes): fixed source, one method per fused variant, so that only
    // tensors (or None) cross the TorchSharp invoke boundary. Scalar?[] is spelled List[Optional[number]] there.
    private const string Source = """
        class FastLinear(Module):
          __parameters__ = []
          __buffers__ = []
          training : bool
          def pack(self: __torch__.FastLinear, w: Tensor) -> Tensor:
            return ops.mkldnn._reorder_linear_weight(w, None)
          def linear(self: __torch__.FastLinear, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "none", annotate(List[Optional[number]], []), None)
          def linear_gelu(self: __torch__.FastLinear, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "gelu", annotate(List[Optional[number]], []), "none")
          def linear_gelu_tanh(self: __torch__.FastLinear, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "gelu", annotate(List[Optional[number]], []), "tanh")
          def linear_relu(self: __torch__.FastLinear, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "relu", annotate(List[Optional[number]], []), None)
          def linear_swish(self: __torch__.FastLinear, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "swish", annotate(List[Optional[number]], []), None)
          def linear_tanh(self: __torch__.FastLinear, x: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "tanh", annotate(List[Optional[number]], []), None)
          def linear_add(self: __torch__.FastLinear, x: Tensor, other: Tensor, w: Tensor, b: Optional[Tensor]) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, other, w, b, "add")

        """;

    // The implementations the archive's ops dispatch to, as libtorch_cpu exports them (Itanium ABI, libtorch 2.x on Linux).
    private static readonly string[] RequiredExports =
    [
        "_ZN2at6native23mkldnn_linear_pointwiseERKNS_6TensorES3_RKSt8optionalIS1_ESt17basic_string_viewIcSt11char_traitsIcEEN3c104ListIS4_INSC_6ScalarEEEES4_ISB_E",
        "_ZN2at6native30mkldnn_linear_pointwise_binaryERKNS_6TensorES3_S3_RKSt8optionalIS1_ESt17basic_string_viewIcSt11char_traitsIcEE",
    ];

    private static readonly Lazy<(OneDnn? Ops, string Status)> Instance = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly jit.ScriptModule module;
    private readonly Dictionary<ScalarType, bool> dtypeWorks = [];
    private readonly Dictionary<ScalarType, string> disabledWhy = [];
    private readonly object dtypeLock = new();

    private OneDnn(jit.ScriptModule module) => this.module = module;

    /// <summary>The ops, or null where this libtorch/OS/CPU has none (see <see cref="Status"/>).</summary>
    public static OneDnn? Ops => Instance.Value.Ops;

    /// <summary>One line: what was found (or why the ops are unavailable).</summary>
    public static string Status => Instance.Value.Status;

    /// <summary>Whether the ops were loaded already (without loading them).</summary>
    public static bool IsCreated => Instance.IsValueCreated;

    /// <summary>The packed copy of a (out, in) weight: a oneDNN-layout tensor of the same logical shape.</summary>
    public Tensor Pack(Tensor weight) => module.invoke<Tensor>("pack", weight);

    /// <summary>act(x·Wᵀ + b) with W packed by <see cref="Pack"/>; x (..., in) contiguous or not.</summary>
    public Tensor Linear(Tensor x, Tensor packed, Tensor? bias, FusedActivation act) => module.invoke<Tensor>(act switch
    {
        FusedActivation.None => "linear",
        FusedActivation.Gelu => "linear_gelu",
        FusedActivation.GeluTanh => "linear_gelu_tanh",
        FusedActivation.Relu => "linear_relu",
        FusedActivation.Swish => "linear_swish",
        FusedActivation.Tanh => "linear_tanh",
        _ => throw new ArgumentOutOfRangeException(nameof(act), act, null),
    }, x, packed, bias!);

    /// <summary>x·Wᵀ + b + other (the residual add fused), other of the output's shape.</summary>
    public Tensor LinearAdd(Tensor x, Tensor other, Tensor packed, Tensor? bias) =>
        module.invoke<Tensor>("linear_add", x, other, packed, bias!);

    /// <summary>
    /// Whether the ops run <paramref name="dtype"/> here and agree with <c>F.linear</c> (checked once per dtype on a
    /// small random problem: a CPU without the kernels, e.g. bf16 without AVX-512, throws, and is then left to F.linear).
    /// </summary>
    public bool Supports(ScalarType dtype, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16)) return false;
        lock (dtypeLock)
        {
            if (!dtypeWorks.TryGetValue(dtype, out var ok))
            {
                ok = Check(dtype, out var why);
                dtypeWorks[dtype] = ok;
                if (!ok) disabledWhy[dtype] = $"oneDNN linear disabled for {dtype}: {why}; using F.linear";
            }
            if (!ok) FastPathLog.Write(disabledWhy[dtype], logger, Microsoft.Extensions.Logging.LogLevel.Warning);
            return ok;
        }
    }

    private bool Check(ScalarType dtype, out string why)
    {
        why = "";
        try
        {
            using var mode = inference_mode();
            using var scope = NewDisposeScope();
            var gen = new Generator(1234, device: CPU);
            var x = randn(5, 24, generator: gen).to(dtype);
            var w = randn(20, 24, generator: gen).to(dtype).Times(0.2);
            var b = randn(20, generator: gen).to(dtype);
            var other = randn(5, 20, generator: gen).to(dtype);
            var packed = Pack(w);
            var reference = nn.functional.linear(x, w, b).to(float32);
            double tol = dtype == ScalarType.Float32 ? 1e-4 : 0.1;
            var checks = new (string Name, Tensor Got, Tensor Want)[]
            {
                ("linear", Linear(x, packed, b, FusedActivation.None), reference),
                ("gelu", Linear(x, packed, b, FusedActivation.Gelu), nn.functional.gelu(reference)),
                ("gelu tanh", Linear(x, packed, b, FusedActivation.GeluTanh), nn.functional.gelu(reference, TorchSharp.Modules.GELU.Approximate.tanh)),
                ("relu", Linear(x, packed, b, FusedActivation.Relu), nn.functional.relu(reference)),
                ("swish", Linear(x, packed, b, FusedActivation.Swish), nn.functional.silu(reference)),
                ("tanh", Linear(x, packed, b, FusedActivation.Tanh), reference.tanh()),
                ("add", LinearAdd(x, other, packed, b), reference.Plus(other.to(float32))),
                ("unpack", packed.to_dense().to(float32), w.to(float32)),
            };
            foreach (var (name, got, want) in checks)
            {
                var err = (got.to(float32) - want).abs().max().item<float>(); // tensor − tensor passes no Scalar
                if (!(err <= tol)) { why = $"{name} differs from F.linear by {err:g3}"; return false; }
            }
            return true;
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            why = e.Message.Split('\n', 2)[0].Trim();
            return false;
        }
    }

    private static (OneDnn?, string) Create()
    {
        NativeRuntime.EnsureLoaded();
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            return (null, $"oneDNN linear: not available on {RuntimeInformation.OSDescription} (checked on Linux only); using F.linear");
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return (null, $"oneDNN linear: not used on {RuntimeInformation.ProcessArchitecture} (x64 only); using F.linear");
        if (!NativeLibrary.TryLoad("libtorch_cpu.so", out var lib))
            return (null, "oneDNN linear: libtorch_cpu.so not found among the loaded libraries; using F.linear");
        if (RequiredExports.FirstOrDefault(s => !NativeLibrary.TryGetExport(lib, s, out _)) is { } missing)
            return (null, $"oneDNN linear: this libtorch build lacks the mkldnn linear ops ({missing[..30]}…); using F.linear");
        try
        {
            var ops = new OneDnn(jit.load(Archive(), DeviceType.CPU, -1));
            return (ops, "oneDNN linear: mkldnn::_linear_pointwise with packed weights");
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException)
        {
            return (null, $"oneDNN linear: loading the op module failed ({e.Message.Split('\n', 2)[0].Trim()}); using F.linear");
        }
    }

    /// <summary>The TorchScript archive (a stored zip) holding <see cref="Source"/> and a FastLinear object.</summary>
    internal static byte[] Archive()
    {
        var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] bytes)
            {
                using var s = archive.CreateEntry("archive/" + name, CompressionLevel.NoCompression).Open();
                s.Write(bytes);
            }
            Add("data.pkl", DataPickle());
            Add("code/__torch__.py", Encoding.UTF8.GetBytes(Source.Replace("\r\n", "\n")));
            Add("constants.pkl", [0x80, 0x02, 0x29, 0x2e]); // PROTO 2, EMPTY_TUPLE, STOP: no constants
            Add("version", "3\n"u8.ToArray());
        }
        return zip.ToArray();
    }

    /// <summary>Pickle (protocol 2) of a <c>__torch__.FastLinear</c> whose only attribute is <c>training = True</c>:
    /// GLOBAL, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, MARK, 'training', NEWTRUE, SETITEMS, BUILD, STOP.</summary>
    private static byte[] DataPickle()
    {
        var ms = new MemoryStream();
        ms.Write([0x80, 0x02, (byte)'c']);
        ms.Write("__torch__\nFastLinear\n"u8);
        ms.Write([0x29, 0x81, 0x7d, 0x28, (byte)'X']);
        var key = "training"u8;
        ms.Write(BitConverter.GetBytes(key.Length));
        ms.Write(key);
        ms.Write([0x88, (byte)'u', (byte)'b', (byte)'.']);
        return ms.ToArray();
    }
}
