using TorchBert.Configuration;
using static TorchSharp.torch;

namespace TorchBert.Modeling;

/// <summary>
/// HF's <c>past_key_values</c> of a BERT decoder: per layer the self-attention key and value (B, nh, past, hs) of every
/// token seen so far and, for a model with cross-attention, the cross-attention key and value (B, nh, S, hs) of the
/// encoder states (HF's legacy tuple <c>(self_k, self_v, cross_k, cross_v)</c> per layer, or <c>EncoderDecoderCache</c>).
/// <para>Ownership: the cache owns its tensor handles. They are detached from every dispose scope, so a cache survives
/// the scope of the forward that made it and lives until <see cref="Dispose"/>; one object owns it at a time (an output
/// until <c>TakePastKeyValues()</c> moves it out, then the caller). A forward given a cache reads it and returns a new one;
/// the old one is still the caller's to dispose.</para>
/// </summary>
public sealed class BertCache : IDisposable
{
    private readonly Tensor?[] keys, values, crossKeys, crossValues;
    private bool disposed;

    /// <summary>An empty cache for <paramref name="numLayers"/> layers, filled by a forward.</summary>
    internal BertCache(int numLayers)
    {
        keys = new Tensor?[numLayers];
        values = new Tensor?[numLayers];
        crossKeys = new Tensor?[numLayers];
        crossValues = new Tensor?[numLayers];
    }

    /// <summary>
    /// A cache from HF-layout tensors (e.g. HF's <c>past_key_values</c> saved to a file): per layer key and value
    /// (B, nh, past, hs), optionally cross key and value (B, nh, S, hs). The cache takes new handles on the same storage:
    /// the caller still owns (and disposes) the tensors it passed.
    /// </summary>
    public static BertCache FromTensors(IReadOnlyList<(Tensor Key, Tensor Value)> self, IReadOnlyList<(Tensor Key, Tensor Value)>? cross = null)
    {
        if (self.Count == 0) throw new ArgumentException("past_key_values needs at least one layer", nameof(self));
        if (cross is not null && cross.Count != self.Count)
            throw new ArgumentException($"past_key_values has {self.Count} self-attention layers but {cross.Count} cross-attention layers", nameof(cross));
        var cache = new BertCache(self.Count);
        for (int i = 0; i < self.Count; i++)
        {
            cache.Set(i, crossAttention: false, self[i].Key, self[i].Value);
            if (cross is not null) cache.Set(i, crossAttention: true, cross[i].Key, cross[i].Value);
        }
        cache.Validate();
        return cache;
    }

    /// <summary>Number of layers.</summary>
    public int LayerCount => keys.Length;

    /// <summary>Batch size B.</summary>
    public long BatchSize => Key(0).shape[0];

    /// <summary>Tokens already seen (HF's <c>get_seq_length()</c>, <c>past_key_values[0][0].shape[2]</c>).</summary>
    public long Length => Key(0).shape[2];

    /// <summary>Whether the cache holds cross-attention keys/values.</summary>
    public bool HasCrossAttention => crossKeys[0] is not null;

    /// <summary>Self-attention key of <paramref name="layer"/>: (B, nh, past, hs).</summary>
    public Tensor Key(int layer) => Live(keys[layer], layer, "key");
    /// <summary>Self-attention value of <paramref name="layer"/>: (B, nh, past, hs).</summary>
    public Tensor Value(int layer) => Live(values[layer], layer, "value");
    /// <summary>Cross-attention key of <paramref name="layer"/>: (B, nh, S, hs); null without cross-attention.</summary>
    public Tensor? CrossKey(int layer) { ThrowIfDisposed(); return crossKeys[layer]; }
    /// <summary>Cross-attention value of <paramref name="layer"/>: (B, nh, S, hs); null without cross-attention.</summary>
    public Tensor? CrossValue(int layer) { ThrowIfDisposed(); return crossValues[layer]; }

    /// <summary>Every tensor under HF-style names: <c>past_key_values.{i}.key</c>, <c>.value</c>, <c>.cross_key</c>, <c>.cross_value</c>.</summary>
    public IEnumerable<(string Name, Tensor Value)> Named()
    {
        for (int i = 0; i < LayerCount; i++)
        {
            yield return ($"past_key_values.{i}.key", Key(i));
            yield return ($"past_key_values.{i}.value", Value(i));
            if (crossKeys[i] is { } ck) yield return ($"past_key_values.{i}.cross_key", ck);
            if (crossValues[i] is { } cv) yield return ($"past_key_values.{i}.cross_value", cv);
        }
    }

    /// <summary>Stores a layer's keys/values: a new handle on the same storage, detached from every dispose scope (the cache owns it).</summary>
    internal void Set(int layer, bool crossAttention, Tensor key, Tensor value)
    {
        ThrowIfDisposed();
        var (k, v) = crossAttention ? (crossKeys, crossValues) : (keys, values);
        k[layer]?.Dispose();
        v[layer]?.Dispose();
        k[layer] = key.alias().DetachFromDisposeScope();
        v[layer] = value.alias().DetachFromDisposeScope();
    }

    /// <summary>Checks that every layer has self keys/values of one shape (B, nh, past, hs) and cross ones in every layer or none.</summary>
    internal void Validate()
    {
        for (int i = 0; i < LayerCount; i++)
        {
            var k = Key(i);
            var v = Value(i);
            if (k.dim() != 4 || !k.shape.SequenceEqual(v.shape) || !k.shape.SequenceEqual(Key(0).shape))
                throw new ArgumentException($"past_key_values layer {i}: key {InputValidation.Shape(k)} and value {InputValidation.Shape(v)} " +
                                            $"must both be (batch, heads, past, head_size) = {InputValidation.Shape(Key(0))}");
            if ((crossKeys[i] is null) != (crossKeys[0] is null) || (crossKeys[i] is null) != (crossValues[i] is null))
                throw new ArgumentException($"past_key_values layer {i}: cross-attention keys/values must be given for every layer or none");
        }
    }

    /// <summary>Checks the cache fits a model of <paramref name="config"/> and a batch of <paramref name="batch"/> rows.</summary>
    internal void CheckFits(BertConfig config, long batch)
    {
        ThrowIfDisposed();
        if (LayerCount != config.NumHiddenLayers)
            throw new ArgumentException($"past_key_values has {LayerCount} layers but the model has num_hidden_layers = {config.NumHiddenLayers}", "pastKeyValues");
        var k = Key(0);
        if (k.shape[0] != batch)
            throw new ArgumentException($"past_key_values has batch size {k.shape[0]} (key {InputValidation.Shape(k)}) but input_ids has {batch} rows", "pastKeyValues");
        if (k.shape[1] != config.NumAttentionHeads || k.shape[3] != config.HeadSize)
            throw new ArgumentException($"past_key_values key {InputValidation.Shape(k)} does not match the model's (batch, {config.NumAttentionHeads} heads, past, {config.HeadSize})", "pastKeyValues");
    }

    private Tensor Live(Tensor? t, int layer, string what)
    {
        ThrowIfDisposed();
        return t ?? throw new InvalidOperationException($"past_key_values layer {layer} has no {what}");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var t in keys.Concat(values).Concat(crossKeys).Concat(crossValues)) t?.Dispose();
    }
}
