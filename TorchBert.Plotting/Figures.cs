using System.Globalization;
using ScottPlot;
using SkiaSharp;
using TorchBert.Analysis;

namespace TorchBert.Plotting;

/// <summary>Where a panel's cells landed in the image: the data rectangle in pixels and the matrix's size.</summary>
public readonly record struct PanelArea(float Left, float Top, float Right, float Bottom, int Rows, int Columns)
{
    /// <summary>The pixel at the centre of cell (row, column).</summary>
    public (int X, int Y) CellCenter(int row, int column) =>
        ((int)(Left + (column + 0.5) * (Right - Left) / Columns), (int)(Top + (row + 0.5) * (Bottom - Top) / Rows));
}

/// <summary>What was written: the file, its size in pixels and, for heatmaps, where each panel's cells are.</summary>
public sealed record FigureInfo(string Path, int Width, int Height, IReadOnlyList<PanelArea> Panels);

/// <summary>
/// The pictures of <c>torchbert plot</c>, drawn with ScottPlot 5 and written atomically as .png or .svg:
/// token × token heatmaps (labels = tokens, a colour bar with the value range, a title naming the metric), grids of
/// them, and training curves.
/// </summary>
public static class Figures
{
    /// <summary>Most labels drawn per axis; beyond <see cref="AllLabelsUpTo"/> labels are thinned to every k-th.</summary>
    public const int AllLabelsUpTo = 64;
    private const int MaxLabelChars = 18;

    /// <summary>Throws unless <paramref name="path"/> can take an image (.png or .svg in an existing folder): check before slow work.</summary>
    public static void CheckPath(string path) => ImageFile.CheckPath(path);

    /// <summary>One matrix as a heatmap: row 0 at the top, column 0 at the left.</summary>
    public static FigureInfo Heatmap(LabelledMatrix matrix, string path)
    {
        CheckMatrix(matrix);
        int n = Math.Max(matrix.Rows.Count, matrix.Columns.Count);
        float side = Math.Clamp(26f * n, 960f, 1500f);
        var plot = new HeatmapPanel(matrix, side, ColorRange(matrix), titleSize: 26, maxFont: 20);
        int width = (int)MathF.Ceiling(plot.Padding.Left + side + plot.Padding.Right);
        int height = (int)MathF.Ceiling(plot.Padding.Top + side + plot.Padding.Bottom);
        PanelArea area = default;
        ImageFile.Save(path, width, height, canvas => area = plot.Render(canvas, 0, 0, width, height, ImageFile.IsSvg(path)));
        return new FigureInfo(path, width, height, [area]);
    }

    /// <summary>Several matrices side by side with one shared colour range (a single panel draws as <see cref="Heatmap"/>).</summary>
    public static FigureInfo Grid(MatrixGrid grid, string path)
    {
        if (grid.Panels.Count == 0) throw new ArgumentException("nothing to plot: the grid has no panels");
        if (grid.Panels.Count == 1) return Heatmap(grid.Panels[0], path);
        foreach (var p in grid.Panels) CheckMatrix(p);
        int count = grid.Panels.Count;
        int columns = (int)Math.Ceiling(Math.Sqrt(count)), rows = (count + columns - 1) / columns;
        // Panels are about as tall as wide: keep the whole grid within ~2000 pixels both ways.
        const float header = 56;
        float cellWidth = Math.Min(640f, Math.Min(1960f / columns, (1960f - header) / rows / 1.1f));
        var range = grid.Panels.Select(ColorRange).Aggregate((a, b) => (Math.Min(a.Min, b.Min), Math.Max(a.Max, b.Max)));
        var panels = grid.Panels.Select(m =>
        {
            // The data square is what is left of the cell once labels and colour bar are measured.
            var probe = new HeatmapPanel(m, 400, range, titleSize: 16, maxFont: 12);
            var side = Math.Max(160f, cellWidth - probe.Padding.Left - probe.Padding.Right);
            return new HeatmapPanel(m, side, range, titleSize: 16, maxFont: 12);
        }).ToList();
        float cellHeight = panels.Max(p => p.Padding.Top + p.Side + p.Padding.Bottom);
        cellWidth = panels.Max(p => p.Padding.Left + p.Side + p.Padding.Right);
        int width = (int)MathF.Ceiling(columns * cellWidth), height = (int)MathF.Ceiling(header + rows * cellHeight);
        var areas = new PanelArea[count];
        ImageFile.Save(path, width, height, canvas =>
        {
            using (var typeface = PlotFonts.CreateTypeface())
            using (var font = new SKFont(typeface, 24))
            using (var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true })
                canvas.DrawText(grid.Title, width / 2f, header * 0.7f, SKTextAlign.Center, font, paint);
            for (int i = 0; i < count; i++)
            {
                float left = i % columns * cellWidth, top = header + i / columns * cellHeight;
                areas[i] = panels[i].Render(canvas, left, top, left + cellWidth, top + cellHeight, ImageFile.IsSvg(path));
            }
        });
        return new FigureInfo(path, width, height, areas);
    }

    /// <summary>Loss (training and evaluation, left axis) and learning rate (right axis) against the step.</summary>
    public static FigureInfo Training(TrainingCurves curves, string path, string? title = null)
    {
        const int width = 1400, height = 800;
        var plot = new Plot();
        var (trainSteps, train) = curves.Series("loss");
        var (evalSteps, eval) = curves.Series("eval_loss");
        var (lrSteps, lr) = curves.Series("learning_rate");
        if (train.Length > 0)
        {
            var s = plot.Add.Scatter(trainSteps, train, Colors.C0);
            s.LegendText = "training loss";
            s.LineWidth = 2;
            s.MarkerSize = train.Length > 60 ? 0 : 5;
        }
        if (eval.Length > 0)
        {
            var s = plot.Add.Scatter(evalSteps, eval, Colors.C1);
            s.LegendText = "evaluation loss";
            s.LineWidth = 2;
            s.MarkerSize = 9;
            s.MarkerShape = MarkerShape.FilledSquare;
        }
        if (lr.Length > 0)
        {
            var s = plot.Add.Scatter(lrSteps, lr, Colors.Gray);
            s.LegendText = "learning rate (right axis)";
            s.LineWidth = 2;
            s.LinePattern = LinePattern.Dashed;
            s.MarkerSize = 0;
            s.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "learning rate";
            plot.Axes.Right.Label.FontSize = 18;
        }
        plot.Title(title ?? $"training: loss and learning rate by step ({Path.GetFileName(curves.Source)})", 22);
        plot.XLabel("step", 18);
        plot.YLabel(train.Length + eval.Length > 0 ? "loss" : "", 18);
        foreach (IAxis axis in new IAxis[] { plot.Axes.Bottom, plot.Axes.Left, plot.Axes.Right }) axis.TickLabelStyle.FontSize = 15;
        plot.ShowLegend(Alignment.UpperRight);
        plot.Legend.FontSize = 15;
        PlotFonts.Apply(plot);
        ImageFile.Save(path, width, height, canvas => plot.Render(canvas, new PixelRect(0, width, height, 0)));
        return new FigureInfo(path, width, height, []);
    }

    /// <summary>The colour range: symmetric about 0 for signed values, from 0 for probabilities, the data's range otherwise.</summary>
    internal static (double Min, double Max) ColorRange(LabelledMatrix m)
    {
        var (min, max) = m.Range();
        (min, max) = m.Kind switch
        {
            ValueKind.Signed => (-Math.Max(Math.Abs(min), Math.Abs(max)), Math.Max(Math.Abs(min), Math.Abs(max))),
            ValueKind.Probability => (Math.Min(0, min), max),
            _ => (min, max),
        };
        if (!(max > min)) (min, max) = (min - 0.5, max + 0.5);
        return (min, max);
    }

    private static void CheckMatrix(LabelledMatrix m)
    {
        if (m.Values.Length == 0 || m.Values[0].Length == 0) throw new ArgumentException($"'{m.Title}': the matrix is empty");
        if (m.Values.Length != m.Rows.Count || m.Values.Any(r => r.Length != m.Columns.Count))
            throw new ArgumentException($"'{m.Title}': {m.Values.Length} rows of values for {m.Rows.Count} row labels and {m.Columns.Count} column labels");
        if (m.Values.Any(r => r.Any(v => !double.IsFinite(v)))) throw new ArgumentException($"'{m.Title}': the matrix has a NaN or infinite value");
    }

    /// <summary>The shown label of a token (long ones shortened with an ellipsis).</summary>
    internal static string Label(string s) => s.Length <= MaxLabelChars ? s : s[..(MaxLabelChars - 1)] + "…";

    /// <summary>1 up to <see cref="AllLabelsUpTo"/> labels, else the first of 2, 4, 5, 8, 10, 20, 40, ... giving at most 48 labels.</summary>
    internal static int LabelStep(int n) => NiceStep(n <= AllLabelsUpTo ? 1 : (int)Math.Ceiling(n / 48.0));

    /// <summary>The step for <paramref name="n"/> labels along <paramref name="pixels"/>: <see cref="LabelStep(int)"/>, thinned further where the slots get smaller than a readable label.</summary>
    internal static int LabelStep(int n, float pixels) => NiceStep(Math.Max(LabelStep(n), (int)Math.Ceiling(MinLabelSlot * n / pixels)));

    /// <summary>Pixels a label needs across (the 8 px minimum font at 70% of its slot).</summary>
    private const float MinLabelSlot = 8 / 0.7f;

    /// <summary>The first of 1, 2, 4, 5, 8, 10, 20, 40, 50, 80, 100, ... that is at least <paramref name="need"/>.</summary>
    private static int NiceStep(int need)
    {
        for (int scale = 1; ; scale *= 10)
            foreach (var k in new[] { 1, 2, 4, 5, 8 })
                if (k * scale >= need) return k * scale;
    }

    /// <summary>One heatmap laid out for a data square of <see cref="Side"/> pixels, with paddings measured from its labels.</summary>
    private sealed class HeatmapPanel
    {
        private readonly LabelledMatrix matrix;
        private readonly (double Min, double Max) range;
        private readonly float titleSize, fontSize;
        private readonly bool verticalColumns;
        private readonly int rowStep, columnStep;

        public HeatmapPanel(LabelledMatrix matrix, float side, (double Min, double Max) range, float titleSize, float maxFont)
        {
            this.matrix = matrix;
            this.range = range;
            this.titleSize = titleSize;
            Side = side;
            int rows = matrix.Rows.Count, columns = matrix.Columns.Count;
            rowStep = LabelStep(rows, side);
            columnStep = LabelStep(columns, side);
            // Font from the spacing of the labels drawn: each label gets at most ~70% of its slot's height.
            float slot = side / Math.Max(rows / (float)rowStep, columns / (float)columnStep);
            fontSize = Math.Clamp(slot * 0.7f, 8f, maxFont);
            using var typeface = PlotFonts.CreateTypeface();
            using var font = new SKFont(typeface, fontSize);
            float Widest(IReadOnlyList<string> labels, int step) =>
                labels.Where((_, i) => i % step == 0).Select(l => font.MeasureText(Label(l))).DefaultIfEmpty(0).Max();
            float rowLabels = Widest(matrix.Rows, rowStep), columnLabels = Widest(matrix.Columns, columnStep);
            // Column labels stay horizontal when each fits its slot, else they turn vertical.
            verticalColumns = columnLabels > 0.9f * side * columnStep / columns;
            float bottom = (verticalColumns ? columnLabels : fontSize * 1.3f) + 18;
            // Colour bar: margin, bar, tick marks and labels.
            float bar = 15 + 30 + 10 + font.MeasureText("-0.000") + 24;
            Padding = new PixelPadding(rowLabels + 18, bar, bottom, titleSize * 2.2f);
        }

        public float Side { get; }
        public PixelPadding Padding { get; }

        public PanelArea Render(SKCanvas canvas, float left, float top, float right, float bottom, bool vector)
        {
            int rows = matrix.Rows.Count, columns = matrix.Columns.Count;
            var plot = new Plot();
            var data = new double[rows, columns];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < columns; j++) data[i, j] = matrix.Values[i][j];
            var heatmap = plot.Add.Heatmap(data);
            heatmap.Colormap = matrix.Kind == ValueKind.Signed ? new ScottPlot.Colormaps.Balance() : new ScottPlot.Colormaps.Viridis();
            heatmap.ManualRange = new ScottPlot.Range(range.Min, range.Max);
            // An SVG gets one rectangle per cell (crisp at any zoom) unless that would be a huge file; a PNG the bitmap.
            if (vector && rows * columns <= 128 * 128) heatmap.RenderStrategy = new ScottPlot.Plottables.Heatmap.RenderStrategies.Rectangles();
            // The colour bar's ticks: round values, and the exact ends of the range so it reads off the bar.
            var bar = plot.Add.ColorBar(heatmap);
            var barTicks = new ScottPlot.TickGenerators.NumericManual();
            foreach (var (value, label) in ColorBarTicks(range.Min, range.Max)) barTicks.AddMajor(value, label);
            bar.Axis.TickGenerator = barTicks;
            bar.Axis.TickLabelStyle.FontSize = fontSize;
            bar.Axis.TickLabelStyle.FontName = PlotFonts.Family;

            // Cell (i, j) is centred on x = j, y = rows - 1 - i: row 0 at the top, as a matrix reads.
            var x = new ScottPlot.TickGenerators.NumericManual();
            for (int j = 0; j < columns; j += columnStep) x.AddMajor(j, Label(matrix.Columns[j]));
            var y = new ScottPlot.TickGenerators.NumericManual();
            for (int i = 0; i < rows; i += rowStep) y.AddMajor(rows - 1 - i, Label(matrix.Rows[i]));
            plot.Axes.Bottom.TickGenerator = x;
            plot.Axes.Left.TickGenerator = y;
            plot.Axes.Bottom.TickLabelStyle.FontSize = fontSize;
            plot.Axes.Left.TickLabelStyle.FontSize = fontSize;
            if (verticalColumns)
            {
                plot.Axes.Bottom.TickLabelStyle.Rotation = -90;
                plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            }
            plot.Axes.SetLimits(-0.5, columns - 0.5, -0.5, rows - 0.5);
            plot.HideGrid();
            plot.Title(matrix.Title, titleSize);
            plot.Layout.Fixed(Padding);
            PlotFonts.Apply(plot);
            // ScottPlot draws a plot as a whole figure (background included): record it on its own, then place it.
            float width = right - left, height = bottom - top;
            using var recorder = new SKPictureRecorder();
            plot.Render(recorder.BeginRecording(SKRect.Create(width, height)), new PixelRect(0, width, height, 0));
            using var picture = recorder.EndRecording();
            canvas.Save();
            canvas.ClipRect(SKRect.Create(left, top, width, height));
            canvas.Translate(left, top);
            canvas.DrawPicture(picture);
            canvas.Restore();
            var d = plot.LastRender.DataRect;
            return new PanelArea(left + d.Left, top + d.Top, left + d.Right, top + d.Bottom, rows, columns);
        }

    }

    /// <summary>Ticks for a colour bar over [min, max]: both ends (3 significant digits) and round steps between them.</summary>
    internal static IReadOnlyList<(double Value, string Label)> ColorBarTicks(double min, double max)
    {
        var span = max - min;
        var raw = span / 8;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1, 2, 2.5, 5, 10 }.Select(k => k * magnitude).First(s => s >= raw);
        var ticks = new List<(double, string)> { (min, Num(min)) };
        for (var v = Math.Ceiling(min / step) * step; v < max; v += step)
            if (v - min > 0.04 * span && max - v > 0.04 * span) ticks.Add((v, Num(Math.Round(v / step) * step)));
        ticks.Add((max, Num(max)));
        return ticks;
    }

    private static string Num(double v) =>
        Math.Abs(v) < 1e-12 ? "0" : v.ToString(Math.Abs(v) >= 1000 || Math.Abs(v) < 0.001 ? "0.##E+0" : "G3", CultureInfo.InvariantCulture);
}
