using System.Xml.Linq;
using SkiaSharp;
using TorchBert.Analysis;
using TorchBert.Plotting;
using static TorchBert.Tests.Plotting.PlotOracle;

namespace TorchBert.Tests.Plotting;

/// <summary>The pictures: decoded with SkiaSharp, read pixel by pixel.</summary>
public sealed class FiguresTests(PlotModelFixture f) : IClassFixture<PlotModelFixture>, IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("torchbert-plots-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string PathOf(string name) => Path.Combine(dir, name);

    private static double Luminance(SKColor c) => 0.2126 * c.Red + 0.7152 * c.Green + 0.0722 * c.Blue;

    /// <summary>Decodes a PNG and checks its size against what was reported, and that it is no blank page.</summary>
    private static SKBitmap Decode(FigureInfo figure)
    {
        var bitmap = SKBitmap.Decode(figure.Path);
        bitmap.Should().NotBeNull($"{figure.Path} decodes as an image");
        (bitmap.Width, bitmap.Height).Should().Be((figure.Width, figure.Height));
        bitmap.Width.Should().BeInRange(1000, 2000, "1–2k pixels");
        var colours = new HashSet<SKColor>();
        int dark = 0;
        for (int y = 0; y < bitmap.Height; y += 3)
            for (int x = 0; x < bitmap.Width; x += 3)
            {
                var c = bitmap.GetPixel(x, y);
                colours.Add(c);
                if (Luminance(c) < 60) dark++;
            }
        colours.Count.Should().BeGreaterThan(50, "a picture, not a blank page");
        dark.Should().BeGreaterThan(100, "text and dark cells are drawn");
        return bitmap;
    }

    private TokenInput JoinJacob() => TokenInput.FromText(f.Tokenizer, f.Model.Config, "join jacob the ledger", "hello world");

    [Fact]
    public void Cosine_heatmap_has_the_brightest_cell_of_each_row_on_the_diagonal()
    {
        var input = JoinJacob();
        var m = TokenSimilarity.Compute(f.Model, input, VectorSource.Hidden(2), SimilarityMetric.Cosine);
        var figure = Figures.Heatmap(m, PathOf("cosine.png"));
        using var bitmap = Decode(figure);
        var area = figure.Panels.Should().ContainSingle().Subject;
        (area.Rows, area.Columns).Should().Be((input.Length, input.Length));
        for (int i = 0; i < input.Length; i++)
        {
            var (dx, dy) = area.CellCenter(i, i);
            var diagonal = Luminance(bitmap.GetPixel(dx, dy));
            for (int j = 0; j < input.Length; j++)
            {
                if (j == i || input.Tokens[j] == input.Tokens[i]) continue;   // the two [SEP]s are the same token
                var (x, y) = area.CellCenter(i, j);
                Luminance(bitmap.GetPixel(x, y)).Should().BeLessThan(diagonal, $"row {i} ({input.Tokens[i]}): cell {j} ({input.Tokens[j]}) vs the diagonal");
            }
        }
        // The brightness order of a row follows its values (viridis gets brighter with the value).
        var row = m.Values[1];
        var order = Enumerable.Range(0, row.Length).OrderBy(j => row[j]).ToArray();
        var lum = order.Select(j => { var (x, y) = area.CellCenter(1, j); return Luminance(bitmap.GetPixel(x, y)); }).ToArray();
        lum.Should().BeInAscendingOrder("brighter cells hold larger values");
    }

    [Fact]
    public void Attention_grid_draws_every_head_with_its_cells_inside_the_image()
    {
        var grid = AttentionMaps.Select(f.Model, JoinJacob(), 0, null);
        var figure = Figures.Grid(grid, PathOf("heads.png"));
        using var bitmap = Decode(figure);
        figure.Panels.Should().HaveCount(4);
        foreach (var a in figure.Panels)
        {
            a.Left.Should().BeGreaterThan(0);
            a.Right.Should().BeLessThan(figure.Width);
            a.Top.Should().BeGreaterThan(0);
            a.Bottom.Should().BeLessThan(figure.Height);
        }
        figure.Panels.Select(a => (a.Left, a.Top)).Should().OnlyHaveUniqueItems("each head has its own place");
        // [CLS]'s row in each head: the cell of the largest probability is the brightest.
        for (int p = 0; p < 4; p++)
        {
            var row = grid.Panels[p].Values[0];
            var best = Array.IndexOf(row, row.Max());
            var lum = Enumerable.Range(0, row.Length).Select(j => { var (x, y) = figure.Panels[p].CellCenter(0, j); return Luminance(bitmap.GetPixel(x, y)); }).ToArray();
            Array.IndexOf(lum, lum.Max()).Should().Be(best, $"head {p}");
        }
    }

    [Fact]
    public void Training_curves_render()
    {
        var figure = Figures.Training(TrainingCurves.Read(TrainingCurvesTests.Log), PathOf("training.png"));
        using var bitmap = Decode(figure);
        (figure.Width, figure.Height).Should().Be((1400, 800));
    }

    [Fact]
    public void Svg_is_xml_with_the_tokens_as_text_and_one_rectangle_per_cell()
    {
        var m = TokenSimilarity.Compute(f.Model, JoinJacob(), VectorSource.WordEmbeddings, SimilarityMetric.Softmax(10));
        var figure = Figures.Heatmap(m, PathOf("softmax.svg"));
        var svg = XDocument.Load(figure.Path);
        XNamespace ns = "http://www.w3.org/2000/svg";
        var text = string.Concat(svg.Descendants(ns + "text").Select(t => t.Value));
        foreach (var token in new[] { "[CLS]", "join", "jacob", "ledger", "[SEP]", "hello", "world" }) text.Should().Contain(token);
        svg.Descendants(ns + "rect").Count().Should().BeGreaterThanOrEqualTo(m.Values.Length * m.Values.Length);
    }

    [Fact]
    public void Writes_are_atomic_and_bad_paths_are_named()
    {
        var m = TokenSimilarity.Positions(f.Model, 8);
        var target = PathOf("positions.png");
        File.WriteAllText(target, "old");
        Figures.Heatmap(m, target);
        SKBitmap.DecodeBounds(target).Width.Should().BeGreaterThan(0, "the old file was replaced by the picture");
        FluentActions.Invoking(() => Figures.Heatmap(m, PathOf("positions.jpg"))).Should().Throw<ArgumentException>()
            .WithMessage("*positions.jpg: cannot write '.jpg' images: use a .png or .svg file name");
        FluentActions.Invoking(() => Figures.Heatmap(m, Path.Combine(dir, "missing", "x.png"))).Should().Throw<DirectoryNotFoundException>()
            .WithMessage("*x.png: folder *missing does not exist");
        var nan = m with { Values = [[double.NaN]], Rows = ["0"], Columns = ["0"] };
        FluentActions.Invoking(() => Figures.Heatmap(nan, PathOf("nan.png"))).Should().Throw<ArgumentException>().WithMessage("*NaN*");
        Directory.GetFiles(dir).Select(Path.GetFileName).Should().BeEquivalentTo(["positions.png"], "no temporary or partial file is left");
    }

    [Fact]
    public void The_embedded_font_draws_text_without_any_system_font()
    {
        using var typeface = PlotFonts.CreateTypeface();
        typeface.FamilyName.Should().Be("DejaVu Sans");
        typeface.ContainsGlyphs("[CLS] ##ing Ünïcödé αβγ Жж ·ᵀ…").Should().BeTrue();
        using var surface = SKSurface.Create(new SKImageInfo(200, 60));
        surface.Canvas.Clear(SKColors.White);
        using var font = new SKFont(typeface, 30);
        using var paint = new SKPaint { Color = SKColors.Black };
        surface.Canvas.DrawText("[CLS] bert", 5, 40, font, paint);
        using var image = surface.Snapshot();
        using var pixels = image.PeekPixels();
        int ink = 0;
        for (int y = 0; y < 60; y++)
            for (int x = 0; x < 200; x++) if (pixels.GetPixelColor(x, y).Red < 128) ink++;
        ink.Should().BeGreaterThan(200, "the glyphs are drawn");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(64, 1)]
    [InlineData(65, 2)]
    [InlineData(128, 4)]
    [InlineData(512, 20)]
    public void Labels_are_all_drawn_up_to_64_and_thinned_beyond(int n, int step)
    {
        Figures.LabelStep(n).Should().Be(step);
        Figures.LabelStep(n, 1500).Should().Be(step, "a single heatmap has room for 64 labels");
    }

    [Fact]
    public void Small_panels_thin_their_labels_to_stay_readable()
    {
        Figures.LabelStep(64, 300).Should().Be(4, "300 px hold at most 26 labels of 11.4 px");
        Figures.LabelStep(13, 300).Should().Be(1);
    }

    [Fact]
    public void Colour_ranges_follow_the_kind_of_values()
    {
        LabelledMatrix M(ValueKind kind, params double[] v) => new("t", ["a"], v.Select((_, i) => $"{i}").ToArray(), [v], kind);
        Figures.ColorRange(M(ValueKind.Signed, -2, 5)).Should().Be((-5, 5));
        Figures.ColorRange(M(ValueKind.Probability, 0.1, 0.6)).Should().Be((0, 0.6));
        Figures.ColorRange(M(ValueKind.Similarity, -0.2, 1)).Should().Be((-0.2, 1));
        var ticks = Figures.ColorBarTicks(-0.181, 1);
        ticks[0].Label.Should().Be("-0.181");
        ticks[^1].Label.Should().Be("1");
        ticks.Select(t => t.Value).Should().BeInAscendingOrder();
    }
}

/// <summary>docs/plotting.md's library sample, on the fixture model (hidden_states[2] and layer 1 instead of 6 and 2), so it stays true.</summary>
public sealed class PlottingReadmeSampleTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("torchbert-readme-plots-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Library_sample_from_the_readme_runs()
    {
        var path = Dir;
        using var model = TorchBert.Modeling.BertModel.FromPretrained(path, new TorchBert.Modeling.PretrainedOptions { AttnImplementation = TorchBert.Configuration.AttentionImplementation.Eager });
        var input = TokenInput.FromText(TorchBert.Loading.TokenizerLoader.ForModel(path), model.Config, "Hello, Mr. Bert! How is it going?");
        LabelledMatrix m = TokenSimilarity.Compute(model, input, VectorSource.WordEmbeddings, SimilarityMetric.Parse("softmax:10"));
        float[][] vectors = TokenSimilarity.Vectors(model, input, VectorSource.Hidden(2));
        double[][] cosine = TokenSimilarity.Matrix(vectors, SimilarityMetric.Cosine);
        float[][][][] probs = AttentionMaps.Compute(model, input);
        Figures.Heatmap(m, Path.Combine(dir, "softmax10.png"));
        Figures.Grid(AttentionMaps.Select(model, input, layer: 1, head: null), Path.Combine(dir, "layer1.svg"));
        Figures.Training(TrainingCurves.Read(TrainingCurvesTests.Log), Path.Combine(dir, "training.png"));

        Close(AsList(cosine), AsList(Cosine(vectors)), 1e-9, "cosine of the sample's vectors");
        probs.Should().HaveCount(2);
        Directory.GetFiles(dir).Select(Path.GetFileName).Should().BeEquivalentTo(["softmax10.png", "layer1.svg", "training.png"]);
    }
}
