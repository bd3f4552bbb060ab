using ScottPlot;
using SkiaSharp;

namespace TorchBert.Plotting;

/// <summary>
/// The one font every picture uses: DejaVu Sans (a subset, see Fonts/DejaVuSans-LICENSE.txt) embedded in this assembly, so text renders
/// the same on a machine with no fonts at all. SkiaSharp's Linux native library is the NoDependencies build (no
/// fontconfig), so nothing is looked up on the system: ScottPlot's resolver list gets this font under
/// <see cref="Family"/> and every label asks for that name.
/// </summary>
public static class PlotFonts
{
    /// <summary>The family name the labels ask for (distinct from any system font's name).</summary>
    public const string Family = "TorchBert DejaVu Sans";

    private const string Resource = "TorchBert.Plotting.DejaVuSans.ttf";
    private static readonly Lazy<byte[]> FontBytes = new(LoadBytes);
    private static readonly object Gate = new();
    private static bool registered;

    /// <summary>A new typeface of the embedded font (the caller owns it).</summary>
    public static SKTypeface CreateTypeface()
    {
        using var data = SKData.CreateCopy(FontBytes.Value);
        return SKTypeface.FromData(data) ?? throw new InvalidDataException($"{Resource}: SkiaSharp could not read the embedded font");
    }

    /// <summary>Adds the embedded font to ScottPlot's resolvers (once per process).</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (registered) return;
            Fonts.FontResolvers.Insert(0, new EmbeddedResolver());
            registered = true;
        }
    }

    /// <summary>Points every label of <paramref name="plot"/> (title, axes, ticks, colour bars, legend) at the embedded font.</summary>
    internal static void Apply(Plot plot)
    {
        Register();
        plot.Font.Set(Family);
    }

    private static byte[] LoadBytes()
    {
        using var stream = typeof(PlotFonts).Assembly.GetManifestResourceStream(Resource)
                           ?? throw new InvalidDataException($"{Resource}: the embedded font is missing from {typeof(PlotFonts).Assembly.GetName().Name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Answers for <see cref="Family"/> (any weight or slant: one face serves all) and passes on other names.</summary>
    private sealed class EmbeddedResolver : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
            fontName == Family ? PlotFonts.CreateTypeface() : null;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            fontName == Family ? PlotFonts.CreateTypeface() : null;
    }
}
