using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary><c>torch.nn.utils.clip_grad_norm_</c>.</summary>
internal static class GradClipping
{
    /// <summary>
    /// total = ‖(‖g‖₂ for each gradient)‖₂; when <paramref name="maxNorm"/> &gt; 0 every gradient is multiplied by
    /// min(1, max_norm / (total + 1e-6)), as PyTorch does. Parameters without a gradient are skipped. Returns the total
    /// norm before clipping (NaN or infinity when a gradient is not finite).
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        var norms = stack(grads.Select(g => linalg.vector_norm(g, 2).to(ScalarType.Float32)).ToArray());
        var total = linalg.vector_norm(norms, 2);
        if (maxNorm > 0)
        {
            // max_norm / (total + 1e-6), clamped to 1: TorchSharp's number / tensor is reciprocal · number, as torch's __rtruediv__
            var coef = KeptScalars.With(1.0, one => total.Plus(1e-6).reciprocal().Times(maxNorm).clamp_max(one));
            foreach (var g in grads) g.mul_(coef.to(g.dtype, g.device));
        }
        return total.to(ScalarType.Float64).item<double>();
    }
}
