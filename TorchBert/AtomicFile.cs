namespace TorchBert;

/// <summary>
/// The one write-to-temp-then-move of TorchBert: every file and folder the library (and its hosts) saves goes through
/// here, so a failure or Ctrl-C never leaves a partial file, and a reader never sees a half-written one. Temporary names
/// are hidden siblings (<c>.{name}.{guid}.tmp</c>) in the same folder, so the final move is a rename on one file system.
/// </summary>
public static class AtomicFile
{
    /// <summary>A hidden, unique sibling of <paramref name="path"/> to write into before moving it over <paramref name="path"/>.</summary>
    public static string TempSibling(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
    }

    /// <summary>
    /// Calls <paramref name="write"/> with a temporary sibling path, then moves that file over <paramref name="path"/>
    /// (replacing it). If <paramref name="write"/> throws, the temporary file is deleted and <paramref name="path"/> is untouched.
    /// </summary>
    public static void Write(string path, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var temp = TempSibling(full);
        try
        {
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            TryDeleteFile(temp);
        }
    }

    /// <summary>Writes a new file through a stream (flushed to disk before the move), atomically as <see cref="Write(string, Action{string})"/>.</summary>
    public static void Write(string path, Action<Stream> write) => Write(path, temp =>
    {
        using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        write(stream);
        stream.Flush(flushToDisk: true);
    });

    /// <summary><see cref="File.WriteAllText(string, string?)"/> (UTF-8, no BOM), atomically.</summary>
    public static void WriteAllText(string path, string contents) => Write(path, temp => File.WriteAllText(temp, contents));

    /// <summary>Copies <paramref name="source"/> to <paramref name="destination"/>, atomically (the destination is replaced).</summary>
    public static void Copy(string source, string destination) => Write(destination, temp => File.Copy(source, temp));

    /// <summary>A hidden, unique sibling folder of <paramref name="directory"/> to build a folder in before <see cref="ReplaceDirectory"/>.</summary>
    public static string StagingDirectory(string directory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
    }

    /// <summary>
    /// Moves the finished folder <paramref name="staged"/> to <paramref name="directory"/>. An existing folder there is
    /// first moved aside and deleted only after the new one is in place, so one complete folder exists at every moment.
    /// </summary>
    public static void ReplaceDirectory(string staged, string directory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        if (Directory.Exists(full))
        {
            var old = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.old-{Guid.NewGuid():N}");
            Directory.Move(full, old);
            Directory.Move(staged, full);
            TryDeleteDirectory(old);
        }
        else Directory.Move(staged, full);
    }

    /// <summary>Deletes a folder and its contents if it exists, ignoring I/O failures (for cleaning up after a failure).</summary>
    public static void TryDeleteDirectory(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void TryDeleteFile(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
