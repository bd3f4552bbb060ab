using SkiaSharp;

namespace TorchBert.Plotting;

/// <summary>Writes a drawing to a .png or .svg file atomically: a temporary file beside the target, then a move.</summary>
internal static class ImageFile
{
    /// <summary>Throws unless <paramref name="path"/> ends in .png or .svg and its folder exists.</summary>
    public static void CheckPath(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is not ".png" and not ".svg")
            throw new ArgumentException($"{path}: cannot write '{(ext.Length == 0 ? "(no extension)" : ext)}' images: use a .png or .svg file name");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: folder {dir} does not exist");
    }

    public static bool IsSvg(string path) => Path.GetExtension(path).Equals(".svg", StringComparison.OrdinalIgnoreCase);

    public static void Save(string path, int width, int height, Action<SKCanvas> draw)
    {
        CheckPath(path);
        var full = Path.GetFullPath(path);
        AtomicFile.Write(full, (Stream file) =>
        {
            {
                if (IsSvg(full))
                {
                    using var stream = new SKManagedWStream(file);
                    using (var canvas = SKSvgCanvas.Create(SKRect.Create(width, height), stream))
                        Draw(canvas, draw);
                }
                else
                {
                    using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
                                        ?? throw new InvalidOperationException($"SkiaSharp could not create a {width}×{height} surface");
                    Draw(surface.Canvas, draw);
                    using var image = surface.Snapshot();
                    using var data = image.Encode(SKEncodedImageFormat.Png, 100);
                    data.SaveTo(file);
                }
            }
        });
    }

    private static void Draw(SKCanvas canvas, Action<SKCanvas> draw)
    {
        canvas.Clear(SKColors.White);
        draw(canvas);
        canvas.Flush();
    }
}
