using Microsoft.ML.OnnxRuntime;
using TorchBert.Modeling;
using static TorchSharp.torch;

namespace TorchBert.Bench;

/// <summary>One engine running the encoder on a <see cref="Batch"/>.</summary>
public interface IEngine : IDisposable
{
    string Name { get; }
    /// <summary>A forward as a user would call it (inputs built from the arrays, output produced); nothing returned.</summary>
    void Run(Batch batch);
    /// <summary>last_hidden_state as float32, row-major (B, T, H).</summary>
    float[] LastHiddenState(Batch batch);
}

/// <summary>
/// TorchBert: tensors made from the arrays on each call, forward under inference_mode (or what <paramref name="guard"/>
/// opens; null = none) in a dispose scope; with <paramref name="skipPadding"/> as the pipelines call it (padded
/// positions' per-token work skipped).
/// </summary>
public sealed class TorchBertEngine(BertModel model, string name = "TorchBert", bool skipPadding = false, bool ownsModel = true,
    Func<IDisposable?>? guard = null) : IEngine
{
    private readonly Func<IDisposable?> _guard = guard ?? (() => inference_mode());

    public string Name { get; } = name;
    public BertModel Model { get; } = model;

    public void Run(Batch batch)
    {
        using var scope = NewDisposeScope();
        using var mode = _guard();
        using var output = Forward(batch);
    }

    public float[] LastHiddenState(Batch batch)
    {
        using var scope = NewDisposeScope();
        using var mode = _guard();
        using var output = Forward(batch);
        return output.LastHiddenState.to(ScalarType.Float32).cpu().data<float>().ToArray();
    }

    private BertModelOutput Forward(Batch b)
    {
        var device = Model.Device;
        var ids = tensor(b.Ids, b.Shape, device: device);
        var mask = tensor(b.Mask, b.Shape, device: device);
        var types = tensor(b.Types, b.Shape, device: device);
        return Model.forward(ids, mask, types, skipPadding: skipPadding);
    }

    public void Dispose()
    {
        if (ownsModel) Model.Dispose();
    }
}

/// <summary>ONNX Runtime on the same model.onnx: all graph optimisations, sequential, the same intra-op threads.</summary>
public sealed class OrtEngine : IEngine
{
    private static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly string[] _outputs;

    public OrtEngine(string modelPath, int threads)
    {
        _options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(modelPath, _options);
        // last_hidden_state is the graph's rank-3 output.
        _outputs = [_session.OutputMetadata.First(o => o.Value.Dimensions.Length == 3).Key];
    }

    public string Name => "ONNX Runtime";

    public void Run(Batch batch)
    {
        using var results = Forward(batch);
    }

    public float[] LastHiddenState(Batch batch)
    {
        using var results = Forward(batch);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private IDisposableReadOnlyCollection<OrtValue> Forward(Batch b)
    {
        using var ids = OrtValue.CreateTensorValueFromMemory(b.Ids, b.Shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(b.Mask, b.Shape);
        using var types = OrtValue.CreateTensorValueFromMemory(b.Types, b.Shape);
        using var run = new RunOptions();
        return _session.Run(run, InputNames, [ids, mask, types], _outputs);
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
