using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Training;

/// <summary>One parameter group: HF Trainer builds two (decay / no decay).</summary>
public sealed record ParameterGroup(IReadOnlyList<(string Name, Parameter Parameter)> Parameters, double WeightDecay);

/// <summary>
/// <c>torch.optim.AdamW</c> (PyTorch's single-tensor path, which CPU tensors take): decoupled weight decay
/// <c>p ← p·(1 − lr·wd)</c>, moments <c>m ← lerp(m, g, 1 − β1)</c>, <c>v ← β2·v + (1 − β2)·g²</c>, bias corrections
/// with the step count t, <c>p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)</c>. Parameters without a gradient are
/// skipped (their step count does not advance). Owns its state tensors (moments) and disposes them.
/// State is keyed by parameter name so it saves to and loads from safetensors.
/// </summary>
public sealed class HfAdamW : IDisposable
{
    private sealed class State(Tensor expAvg, Tensor expAvgSq)
    {
        public long Step;
        public Tensor ExpAvg { get; } = expAvg;
        public Tensor ExpAvgSq { get; } = expAvgSq;
    }

    private readonly Dictionary<string, State> _state = new(StringComparer.Ordinal);

    /// <summary>AdamW (decoupled weight decay, bias correction) over <paramref name="groups"/>, as torch.optim.AdamW.</summary>
    public HfAdamW(IReadOnlyList<ParameterGroup> groups, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        Groups = groups;
        Lr = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in groups)
            foreach (var (name, _) in g.Parameters)
                if (!names.Add(name)) throw new ArgumentException($"parameter '{name}' appears in more than one group");
    }

    /// <summary>The parameter groups (weight decay per group).</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }
    /// <summary>The learning rate of the next step (the scheduler sets it).</summary>
    public double Lr { get; set; }
    /// <summary>Decay rate of the first moment.</summary>
    public double Beta1 { get; }
    /// <summary>Decay rate of the second moment.</summary>
    public double Beta2 { get; }
    /// <summary>Term added to the denominator for stability.</summary>
    public double Eps { get; }

    /// <summary>
    /// HF Trainer's groups (<c>get_decay_parameter_names</c>): <paramref name="weightDecay"/> for every trainable parameter
    /// that is neither a bias nor inside a LayerNorm module, 0 for the rest. Tied parameters appear once.
    /// </summary>
    public static IReadOnlyList<ParameterGroup> HfParameterGroups(nn.Module model, double weightDecay)
    {
        var layerNormParams = new HashSet<IntPtr>();
        foreach (var (_, m) in model.named_modules())
            if (m is LayerNorm ln)
                foreach (var p in ln.parameters()) layerNormParams.Add(p.Handle);
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad || !seen.Add(p)) continue;
            var isNoDecay = layerNormParams.Contains(p.Handle) || name.Contains("bias", StringComparison.Ordinal);
            (isNoDecay ? noDecay : decay).Add((name, p));
        }
        return [new ParameterGroup(decay, weightDecay), new ParameterGroup(noDecay, 0.0)];
    }

    /// <summary>Steps taken by the parameter (0 before its first update).</summary>
    public long StepOf(string name) => _state.TryGetValue(name, out var s) ? s.Step : 0;

    /// <summary><c>optimizer.step()</c>.</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        // The step's constants as Scalars held for the whole step (see KeptScalars: a temporary may be freed mid-op).
        using var beta2 = Beta2.ToScalar();
        using var oneMinusBeta2 = (1 - Beta2).ToScalar();
        using var eps = Eps.ToScalar();
        foreach (var group in Groups)
        {
            using var decayFactor = (1 - Lr * group.WeightDecay).ToScalar();
            foreach (var (name, p) in group.Parameters)
            {
                using var scope = NewDisposeScope();   // the grad wrapper and the temporaries of this update
                var grad = p.grad;
                if (grad is null) continue;
                if (!_state.TryGetValue(name, out var s))
                {
                    s = new State(zeros_like(p).DetachFromDisposeScope(), zeros_like(p).DetachFromDisposeScope());
                    _state[name] = s;
                }
                s.Step++;
                if (group.WeightDecay != 0) p.mul_(decayFactor);
                s.ExpAvg.lerp_(grad, 1 - Beta1);          // the weight is a scalar tensor, held by this scope
                s.ExpAvgSq.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
                double biasCorrection1 = 1 - Math.Pow(Beta1, s.Step);
                double biasCorrection2 = 1 - Math.Pow(Beta2, s.Step);
                using var negativeStepSize = (-(Lr / biasCorrection1)).ToScalar();
                using var biasCorrection2Sqrt = Math.Sqrt(biasCorrection2).ToScalar();
                var denom = s.ExpAvgSq.sqrt().div_(biasCorrection2Sqrt).add_(eps, KeptScalars.One);
                p.addcdiv_(s.ExpAvg, denom, negativeStepSize);
            }
        }
    }

    /// <summary><c>optimizer.zero_grad(set_to_none=True)</c>.</summary>
    public void ZeroGrad()
    {
        foreach (var group in Groups)
            foreach (var (_, p) in group.Parameters)
            {
                using var g = p.grad;
                if (g is not null) p.grad = null;
            }
    }

    /// <summary>The state as named tensors (<c>NAME.exp_avg</c>, <c>NAME.exp_avg_sq</c>) and step counts; views, not copies.</summary>
    public (IEnumerable<KeyValuePair<string, Tensor>> Tensors, Dictionary<string, long> Steps) StateDict() =>
        (_state.SelectMany(kv => new[]
        {
            new KeyValuePair<string, Tensor>(kv.Key + ".exp_avg", kv.Value.ExpAvg),
            new KeyValuePair<string, Tensor>(kv.Key + ".exp_avg_sq", kv.Value.ExpAvgSq),
        }), _state.ToDictionary(kv => kv.Key, kv => kv.Value.Step));

    /// <summary>Replaces the state (tensors are copied onto each parameter's device and dtype).</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, long> steps, string source)
    {
        ClearState();
        using var noGrad = no_grad();
        foreach (var group in Groups)
        {
            foreach (var (name, p) in group.Parameters)
            {
                if (!steps.TryGetValue(name, out var step)) continue;
                if (!tensors.TryGetValue(name + ".exp_avg", out var m) || !tensors.TryGetValue(name + ".exp_avg_sq", out var v))
                    throw new InvalidDataException($"{source}: optimizer state of '{name}' has no exp_avg / exp_avg_sq");
                if (!m.shape.SequenceEqual(p.shape) || !v.shape.SequenceEqual(p.shape))
                    throw new InvalidDataException($"{source}: optimizer state of '{name}' has shape [{string.Join(", ", m.shape)}], the parameter [{string.Join(", ", p.shape)}]");
                var s = new State(m.to(p.dtype, p.device, copy: true).DetachFromDisposeScope(), v.to(p.dtype, p.device, copy: true).DetachFromDisposeScope())
                {
                    Step = step,
                };
                _state[name] = s;
            }
        }
        var unknown = steps.Keys.FirstOrDefault(k => !_state.ContainsKey(k));
        if (unknown is not null) throw new InvalidDataException($"{source}: optimizer state for '{unknown}', which the model does not have");
    }

    private void ClearState()
    {
        foreach (var s in _state.Values)
        {
            s.ExpAvg.Dispose();
            s.ExpAvgSq.Dispose();
        }
        _state.Clear();
    }

    /// <summary>Releases the moment buffers.</summary>
    public void Dispose() => ClearState();
}
