using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace TorchBert.Checkpoints;

/// <summary>Reads file bytes at an absolute offset straight into tensor memory (no managed buffer in between).</summary>
internal static class FileRange
{
    /// <summary>Fills <paramref name="dest"/> (contiguous CPU) from the file starting at <paramref name="fileOffset"/>.</summary>
    public static void ReadInto(SafeFileHandle handle, Tensor dest, long fileOffset, string describe) =>
        TensorMemory.Fill(dest, (chunk, at) => ReadExactly(handle, chunk, checked(fileOffset + at), describe));

    /// <summary>Reads exactly <c>dest.Length</c> bytes at <paramref name="fileOffset"/>; a short file is a <see cref="CheckpointException"/>.</summary>
    public static void ReadExactly(SafeFileHandle handle, Span<byte> dest, long fileOffset, string describe)
    {
        try
        {
            while (!dest.IsEmpty)
            {
                int n = RandomAccess.Read(handle, dest, fileOffset);
                if (n == 0)
                    throw new CheckpointException($"{describe}: the file ends at byte {fileOffset}, before the data it declares");
                dest = dest[n..];
                fileOffset += n;
            }
        }
        catch (IOException e)
        {
            throw new CheckpointException($"{describe}: read failed at byte {fileOffset}: {e.Message}", e);
        }
    }

    /// <summary>Opens a file for positional reads; a missing or unreadable file is a <see cref="CheckpointException"/>.</summary>
    public static SafeFileHandle OpenRead(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CheckpointException($"{path}: cannot open: {e.Message}", e);
        }
    }
}
