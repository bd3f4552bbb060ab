using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>The raw bytes of one torch storage inside a checkpoint file.</summary>
internal abstract class StorageSource(long byteLength, string describe)
{
    public long ByteLength => byteLength;
    public string Describe => describe;

    /// <summary>Fills <paramref name="dest"/> (contiguous CPU) with the storage bytes from <paramref name="byteOffset"/> on.</summary>
    public void ReadInto(Tensor dest, long byteOffset)
    {
        if (byteOffset < 0 || byteOffset > byteLength - TensorMemory.ByteSize(dest))
            throw new CheckpointException($"{describe}: bytes [{byteOffset}, +{TensorMemory.ByteSize(dest)}) lie outside the storage ({byteLength} bytes)");
        ReadCore(dest, byteOffset);
    }

    protected abstract void ReadCore(Tensor dest, long byteOffset);
}

/// <summary>A storage stored uncompressed at a known file offset: read with positional reads into the tensor.</summary>
internal sealed class FileStorageSource(SafeFileHandle handle, long fileOffset, long byteLength, string describe)
    : StorageSource(byteLength, describe)
{
    protected override void ReadCore(Tensor dest, long byteOffset)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, handle);
        FileRange.ReadInto(handle, dest, fileOffset + byteOffset, Describe);
    }
}

/// <summary>A deflate-compressed zip entry (torch never writes these, but a re-zipped file may): streamed, never held whole.</summary>
internal sealed class DeflatedStorageSource(SafeFileHandle handle, long fileOffset, long compressedLength, long byteLength, string describe)
    : StorageSource(byteLength, describe)
{
    protected override void ReadCore(Tensor dest, long byteOffset)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, handle);
        try
        {
            using var inflate = Open(handle, fileOffset, compressedLength);
            Skip(inflate, byteOffset);
            TensorMemory.Fill(dest, (chunk, _) =>
            {
                if (inflate.ReadAtLeast(chunk, chunk.Length, throwOnEndOfStream: false) < chunk.Length)
                    throw new CheckpointException($"{Describe}: the compressed data ends early");
            });
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new CheckpointException($"{Describe}: cannot inflate: {e.Message}", e);
        }
    }

    public static Stream Open(SafeFileHandle handle, long fileOffset, long compressedLength) =>
        new DeflateStream(new FileWindowStream(handle, fileOffset, compressedLength), CompressionMode.Decompress);

    private void Skip(Stream s, long count)
    {
        Span<byte> scratch = stackalloc byte[8192];
        while (count > 0)
        {
            int n = s.Read(scratch[..(int)Math.Min(count, scratch.Length)]);
            if (n == 0) throw new CheckpointException($"{Describe}: the compressed data ends early");
            count -= n;
        }
    }
}
