using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>A module whose Linear layers run through <see cref="FastLinears"/> (the model finds them to pack/unpack).</summary>
internal interface IFastLinearOwner
{
    IEnumerable<FastLinears> FastLinearGroups { get; }
}

/// <summary>
/// One or more Linear layers that read the same input (e.g. query, key and value), run as one oneDNN product with their
/// weights packed together (see <see cref="InferenceFastPath"/>). Packing happens at the first fast forward; the plain
/// weights are then released (each parameter keeps its shape and dtype but points at a one-element NaN placeholder)
/// until <see cref="Restore"/> puts the exact values back. A reader/writer lock keeps packing and unpacking apart from
/// forwards running on other threads.
/// </summary>
internal sealed class FastLinears
{
    private readonly Linear[] linears;
    private readonly long[] outFeatures;
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.NoRecursion);
    private Tensor? packed;      // (Σout, in), oneDNN layout
    private Tensor? groupBias;   // Σout, the concatenated biases (groups of more than one)
    private ScalarType packedType;
    private bool released;       // the parameters hold placeholders: packed is the only copy
    private bool failed;         // packing threw: this group stays on F.linear

    public FastLinears(params Linear[] linears)
    {
        this.linears = linears;
        outFeatures = linears.Select(l => l.out_features).ToArray();
    }

    /// <summary>The model's switch (<see cref="BertPreTrainedModel.UseFastPath"/>).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where this group's notes go (the model's <see cref="BertPreTrainedModel.Logger"/>).</summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; set; }

    /// <summary>Whether the weights are packed now (for tests and the benchmark).</summary>
    public bool IsPacked => packed is not null;

    /// <summary>Whether the plain weights are released (placeholders) now.</summary>
    public bool IsReleased => released;

    /// <summary>
    /// act(x·Wᵀ + b) (+ <paramref name="residual"/>) for the group's concatenated outputs (…, Σout), or null when the
    /// fast path does not apply to this call (then the plain weights are in place for F.linear).
    /// </summary>
    public Tensor? TryForward(nn.Module owner, Tensor x, FusedActivation act = FusedActivation.None, Tensor? residual = null)
    {
        var ops = Applies(owner, x) ? OneDnn.Ops : null;
        if (ops is null || !ops.Supports(x.dtype, Logger))
        {
            if (packed is not null) Restore(keepPacked: false);
            return null;
        }
        while (true)
        {
            gate.EnterReadLock();
            try
            {
                if (packed is not null && packedType == x.dtype) return Run(ops, x, act, residual);
            }
            finally { gate.ExitReadLock(); }
            gate.EnterWriteLock();
            try
            {
                if (failed) return null;
                if (packed is null || packedType != x.dtype) Pack(ops, x.dtype);
                if (failed) return null;
            }
            finally { gate.ExitWriteLock(); }
        }
    }

    private bool Applies(nn.Module owner, Tensor x)
    {
        if (!Enabled || failed || !InferenceFastPath.Enabled || owner.training || is_grad_enabled()) return false;
        if (x.device_type != DeviceType.CPU || x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16)) return false;
        var first = linears[0];
        if (first.weight is not { } w || w.device_type != DeviceType.CPU || w.dtype != x.dtype) return false;
        foreach (var l in linears)
            if (l.bias is null) return false;
        if (OneDnn.Ops is null)
        {
            FastPathLog.Write(OneDnn.Status, Logger, Microsoft.Extensions.Logging.LogLevel.Warning);
            return false;
        }
        return true;
    }

    private Tensor Run(OneDnn ops, Tensor x, FusedActivation act, Tensor? residual)
    {
        var bias = linears.Length == 1 ? linears[0].bias! : groupBias!;
        var features = x.shape[^1];
        var rows = x.numel() / Math.Max(features, 1);
        var bucket = RowBuckets.Of(rows);
        if (bucket == rows)
            return residual is null ? ops.Linear(x, packed!, bias, act) : ops.LinearAdd(x, residual, packed!, bias);
        // Padded up to the bucket (zero rows, their outputs dropped): oneDNN builds and caches one primitive per row
        // count, so a server's ever-changing token counts would otherwise fill its cache with one primitive each.
        using var scope = NewDisposeScope();
        var y = residual is null
            ? ops.Linear(PadRows(x, rows, bucket), packed!, bias, act)
            : ops.LinearAdd(PadRows(x, rows, bucket), PadRows(residual, rows, bucket), packed!, bias);
        long[] shape = [.. x.shape[..^1], y.shape[^1]];
        return y.narrow(0, 0, rows).view(shape).MoveToOuterDisposeScope();
    }

    private static Tensor PadRows(Tensor x, long rows, long bucket)
    {
        var padded = x.new_empty(bucket, x.shape[^1]);
        padded.narrow(0, 0, rows).copy_(x.reshape(rows, x.shape[^1]));
        padded.narrow(0, rows, bucket - rows).zero_();
        return padded;
    }

    /// <summary>Packs the plain weights and releases them (write lock held).</summary>
    private void Pack(OneDnn ops, ScalarType dtype)
    {
        if (packed is not null) RestoreLocked(keepPacked: false);
        try
        {
            using var plainMode = inference_mode(false); // the packed copy and the placeholders are ordinary tensors
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var weight = linears.Length == 1 ? linears[0].weight! : cat(linears.Select(l => (Tensor)l.weight!).ToArray(), 0);
            var p = ops.Pack(weight);
            var b = linears.Length == 1 ? null : cat(linears.Select(l => (Tensor)l.bias!).ToArray(), 0);
            FastPathLog.Write(OneDnn.Status, Logger);
            foreach (var l in linears)
            {
                var shape = l.weight!.shape;
                l.weight!.set_(KeptScalars.With(double.NaN, s => full(1, s, dtype: dtype)).expand(shape));
            }
            packed = p.DetachFromDisposeScope();
            groupBias = b?.DetachFromDisposeScope();
            packedType = dtype;
            released = true;
        }
        catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or InvalidOperationException or ArgumentException)
        {
            failed = true;
            FastPathLog.Write($"oneDNN linear: packing a {dtype} weight failed ({e.Message.Split('\n', 2)[0].Trim()}); using F.linear",
                Logger, Microsoft.Extensions.Logging.LogLevel.Warning);
        }
        // The plain weights (and the concatenation) are free now: hand their pages back, so that the packed copy
        // replaces them in memory too (peak ≈ the weights plus one group) instead of leaving a hole per group.
        if (released) NativeRuntime.ReturnFreeMemory();
    }

    /// <summary>
    /// Puts the plain weights back (bit for bit) if they were released; <paramref name="keepPacked"/> keeps the packed
    /// copy too (both resident, e.g. after <c>state_dict()</c>), otherwise it is freed.
    /// </summary>
    public void Restore(bool keepPacked)
    {
        if (packed is null) return;
        gate.EnterWriteLock();
        try { RestoreLocked(keepPacked); }
        finally { gate.ExitWriteLock(); }
    }

    /// <summary>Frees the packed copy without restoring (the model is being disposed).</summary>
    public void Free()
    {
        gate.EnterWriteLock();
        try
        {
            packed?.Dispose();
            groupBias?.Dispose();
            (packed, groupBias) = (null, null);
        }
        finally { gate.ExitWriteLock(); }
    }

    private void RestoreLocked(bool keepPacked)
    {
        if (packed is null) return;
        if (released)
        {
            using var plainMode = inference_mode(false);
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var dense = packed.to_dense();
            long offset = 0;
            for (var i = 0; i < linears.Length; i++)
            {
                linears[i].weight!.set_(linears.Length == 1 ? dense : dense.narrow(0, offset, outFeatures[i]).clone());
                offset += outFeatures[i];
            }
            released = false;
        }
        if (keepPacked) return;
        packed.Dispose();
        packed = null;
        groupBias?.Dispose();
        groupBias = null;
    }
}

/// <summary>
/// The row counts the fast path runs its products at: every count up to <see cref="Exact"/>, then eight per octave
/// (at most 1/8 of padding rows, about 1/16 on average). oneDNN creates and keeps one primitive per problem shape, so
/// bounding the distinct row counts bounds its cache's memory and lets a server's varied batches reuse primitives.
/// </summary>
internal static class RowBuckets
{
    public const long Exact = 64;

    public static long Of(long rows)
    {
        if (rows <= Exact) return rows;
        var octave = 1L << (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(rows - 1))); // largest power of 2 < rows
        var step = octave / 8;
        return (rows + step - 1) / step * step;
    }
}
