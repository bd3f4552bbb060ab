using TorchBert.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

// Ports of HF activations.py modules that ACT2FN returns for BERT's hidden_act values. They are modules (not functions)
// so that printing a model shows them as HF's print does, e.g. "(intermediate_act_fn): GELUActivation()".

/// <summary>HF <c>GELUActivation</c>: exact GELU, 0.5·x·(1 + erf(x/√2)).</summary>
public sealed class GELUActivation() : nn.Module<Tensor, Tensor>(nameof(GELUActivation))
{
    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => nn.functional.gelu(x);
}

/// <summary>HF <c>NewGELUActivation</c> ("gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), written out as HF does.</summary>
public sealed class NewGELUActivation() : nn.Module<Tensor, Tensor>(nameof(NewGELUActivation))
{
    private static readonly double C = Math.Sqrt(2.0 / Math.PI);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = x.Plus(KeptScalars.With(3.0, x.pow).Times(0.044715)).Times(C);
        return x.Times(0.5).mul(inner.tanh().Plus(1.0)).MoveToOuterDisposeScope();
    }
}

/// <summary>HF <c>PytorchGELUTanh</c> ("gelu_pytorch_tanh"): torch's gelu(approximate='tanh').</summary>
public sealed class PytorchGELUTanh() : nn.Module<Tensor, Tensor>(nameof(PytorchGELUTanh))
{
    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh);
}

/// <summary>torch <c>ReLU</c> (prints as <c>ReLU()</c>; named apart from <c>TorchSharp.Modules.ReLU</c>).</summary>
public sealed class ReLUActivation() : nn.Module<Tensor, Tensor>("ReLU")
{
    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => nn.functional.relu(x);
}

/// <summary>torch <c>SiLU</c> ("silu"/"swish"; prints as <c>SiLU()</c>).</summary>
public sealed class SiLUActivation() : nn.Module<Tensor, Tensor>("SiLU")
{
    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => nn.functional.silu(x);
}

/// <summary>torch <c>Tanh</c> (BertPooler's activation).</summary>
public sealed class TanhActivation() : nn.Module<Tensor, Tensor>("Tanh")
{
    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => x.tanh();
}

/// <summary>HF <c>ACT2FN</c> for the activations BERT configs use.</summary>
public static class Activations
{
    /// <summary>The activation module for <paramref name="act"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(HiddenAct act) => act switch
    {
        HiddenAct.Gelu => new GELUActivation(),
        HiddenAct.GeluNew => new NewGELUActivation(),
        HiddenAct.GeluPytorchTanh => new PytorchGELUTanh(),
        HiddenAct.Relu => new ReLUActivation(),
        HiddenAct.Silu => new SiLUActivation(),
        _ => throw new ArgumentOutOfRangeException(nameof(act), act, "unknown hidden_act"),
    };

    /// <summary>The oneDNN post-op computing <paramref name="act"/> inside the matrix product (the inference fast path).</summary>
    internal static FusedActivation Fused(HiddenAct act) => act switch
    {
        HiddenAct.Gelu => FusedActivation.Gelu,
        HiddenAct.GeluNew or HiddenAct.GeluPytorchTanh => FusedActivation.GeluTanh,
        HiddenAct.Relu => FusedActivation.Relu,
        HiddenAct.Silu => FusedActivation.Swish,
        _ => throw new ArgumentOutOfRangeException(nameof(act), act, "unknown hidden_act"),
    };
}
