using TorchSharp;
using static TorchSharp.torch;

namespace TorchBert;

/// <summary>
/// Numbers passed to tensor ops as <see cref="Scalar"/>s that stay alive until the op has returned.
/// <para>
/// TorchSharp turns a .NET number into a native Scalar that only a finalizer frees, and the temporaries it makes for an
/// implicit conversion (<c>x * 0.5</c>, <c>x.ne(0)</c>, <c>arange(n)</c>) or a default argument (<c>a + b</c> passes
/// <c>alpha = 1</c>) are unreachable once their handle is read. A garbage collection on another thread while the native
/// op runs can then free the Scalar under the op: measured with one thread adding two bf16 tensors and another
/// collecting, 109 of 587 000 <c>a + b</c> failed with libtorch's "Expected false to be true" (a freed Scalar's tag) and
/// none of 585 000 <c>a.add(b, One)</c>. So the library's forward, pooling and training paths pass Scalars held here:
/// the shared constants below (static, never collected), or one made for the call and disposed after it.
/// </para>
/// </summary>
internal static class KeptScalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();

    /// <summary><paramref name="op"/> with <paramref name="value"/> as a Scalar that lives until it returns.</summary>
    public static Tensor With(double value, Func<Scalar, Tensor> op)
    {
        using var scalar = value.ToScalar();
        return op(scalar);
    }

    /// <summary><paramref name="op"/> with <paramref name="value"/> as an integer Scalar that lives until it returns.</summary>
    public static Tensor With(long value, Func<Scalar, Tensor> op)
    {
        using var scalar = value.ToScalar();
        return op(scalar);
    }

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a + value.</summary>
    public static Tensor Plus(this Tensor a, double value) => With(value, s => a.add(s, One));

    /// <summary>a · value.</summary>
    public static Tensor Times(this Tensor a, double value) => With(value, a.mul);

    /// <summary>a / value.</summary>
    public static Tensor Over(this Tensor a, double value) => With(value, s => a.div(s));

    /// <summary>1 − a.</summary>
    public static Tensor OneMinus(this Tensor a) => a.neg().add(One, One);

    /// <summary>The integers [start, stop) as int64 (or <paramref name="dtype"/>).</summary>
    public static Tensor Arange(long start, long stop, Device? device = null, ScalarType dtype = ScalarType.Int64)
    {
        using var from = start.ToScalar();
        using var to = stop.ToScalar();
        return arange(from, to, One, dtype, device);
    }
}
