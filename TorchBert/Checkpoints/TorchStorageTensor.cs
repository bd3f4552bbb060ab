using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>
/// A tensor of a torch checkpoint (zip or legacy): a (storage, storage_offset, size, stride) view of a storage's bytes.
/// Contiguous views are read straight into the result (or the <see cref="CheckpointTensor.LoadInto"/> target); others
/// read the spanned storage elements and copy through <c>as_strided(...).contiguous()</c>.
/// </summary>
internal sealed class TorchStorageTensor : CheckpointTensor
{
    private readonly TorchTensorRecord _record;
    private readonly StorageSource _source;

    private TorchStorageTensor(string name, TorchTensorRecord record, StorageSource source)
        : base(name, record.Storage.DType, record.Size)
    {
        _record = record;
        _source = source;
    }

    /// <summary>
    /// Validates that the view stays inside its storage (checked arithmetic) and that the result is no larger than
    /// <paramref name="maxBytes"/> (the file's size, which bounds what a hostile stride-0 view could make us allocate).
    /// </summary>
    public static TorchStorageTensor Create(string name, TorchTensorRecord r, StorageSource source, long maxBytes, string path)
    {
        string where = $"{path}: tensor '{name}'";
        try
        {
            long esize = CheckpointDTypes.ElementSize(r.Storage.DType);
            long numel = 1, last = r.StorageOffset;
            for (int i = 0; i < r.Size.Length; i++)
            {
                numel = checked(numel * r.Size[i]);
                if (r.Size[i] > 0) last = checked(last + (r.Size[i] - 1) * r.Stride[i]);
            }
            if (checked(numel * esize) > maxBytes)
                throw new CheckpointException($"{where}: {numel} elements are more than the file holds ({maxBytes} bytes)");
            if (numel > 0 && last >= r.Storage.Numel)
                throw new CheckpointException(
                    $"{where}: view (offset {r.StorageOffset}, size [{string.Join(", ", r.Size)}], stride [{string.Join(", ", r.Stride)}]) "
                    + $"reaches element {last} of storage '{r.Storage.Key}' which has {r.Storage.Numel}");
            if (checked((r.Storage.ElementOffset + r.Storage.Numel) * esize) > source.ByteLength)
                throw new CheckpointException($"{where}: storage '{r.Storage.Key}' needs more bytes than its data holds ({source.ByteLength})");
        }
        catch (OverflowException)
        {
            throw new CheckpointException($"{where}: size/stride/offset overflow 64-bit arithmetic");
        }
        return new TorchStorageTensor(name, r, source);
    }

    /// <summary>Byte offset of the view's first element in its storage.</summary>
    private long FirstByte => (_record.Storage.ElementOffset + _record.StorageOffset) * CheckpointDTypes.ElementSize(DType);

    public override Tensor Load()
    {
        if (NumElements == 0) return empty(Shape, DType);
        if (IsContiguous())
            return Read(Shape, FirstByte);
        long extent = 1;
        for (int i = 0; i < Shape.Length; i++)
            if (Shape[i] > 0) extent += (Shape[i] - 1) * _record.Stride[i];
        using var span = Read([extent], FirstByte);
        using var view = span.as_strided(Shape, _record.Stride);
        return view.contiguous();
    }

    /// <summary>Contiguous views are read straight into the target; strided ones go through <see cref="Load"/>.</summary>
    private protected override bool TryReadInto(Tensor target)
    {
        if (!IsContiguous()) return false;
        if (NumElements > 0) _source.ReadInto(target, FirstByte);
        return true;
    }

    private Tensor Read(long[] shape, long byteOffset)
    {
        var t = empty(shape, DType);
        try
        {
            _source.ReadInto(t, byteOffset);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Row-major strides, ignoring dims of size 1 (whose stride never matters).</summary>
    private bool IsContiguous()
    {
        long expected = 1;
        for (int i = Shape.Length - 1; i >= 0; i--)
        {
            if (Shape[i] != 1 && _record.Stride[i] != expected) return false;
            expected *= Shape[i];
        }
        return true;
    }
}
