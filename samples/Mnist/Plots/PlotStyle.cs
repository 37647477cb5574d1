using System;
using System.Globalization;
using System.Linq;
using MoeLayers.Samples.Mnist.Output;
using ScottPlot;

namespace MoeLayers.Samples.Mnist.Plots
{
    /// <summary>Shared look of the sweep's figures, annotated heatmaps, and atomic PNG saving.</summary>
    public static class PlotStyle
    {
        /// <summary>Preferred font; ScottPlot's default resolves to a serif face on many Linux machines.</summary>
        private const string SansFont = "DejaVu Sans";

        /// <summary>A new plot.</summary>
        public static Plot NewPlot() => new();

        /// <summary>A figure of <paramref name="panels"/> plots side by side.</summary>
        public static (Multiplot Figure, Plot[] Panels) NewRow(int panels)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(panels, 1);
            var figure = new Multiplot { Layout = new ScottPlot.MultiplotLayouts.Columns() };
            // AddPlots sets the number of subplots (a new Multiplot already holds one).
            figure.AddPlots(panels);
            return (figure, figure.GetPlots());
        }

        /// <summary>Saves <paramref name="plot"/> as a PNG, atomically.</summary>
        public static void Save(Plot plot, string path, int width, int height)
        {
            UseSansFont(plot);
            AtomicFile.Write(path, temp => plot.SavePng(temp, width, height));
        }

        /// <summary>Saves a multi-panel figure as a PNG, atomically.</summary>
        public static void Save(Multiplot figure, string path, int width, int height)
        {
            foreach (var plot in figure.GetPlots()) UseSansFont(plot);
            AtomicFile.Write(path, temp => figure.SavePng(temp, width, height));
        }

        /// <summary>Applies the sans font to everything already on the plot (Font.Set does not reach later additions).</summary>
        private static void UseSansFont(Plot plot)
        {
            if (SkiaSharp.SKFontManager.Default.FontFamilies.Contains(SansFont)) plot.Font.Set(SansFont);
        }

        /// <summary>Integer ticks 1, 2, … on the bottom axis.</summary>
        public static void IntegerTicks(IAxis axis) => axis.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);

        /// <summary>
        /// Draws <paramref name="values"/> [rows, cols] as a heatmap with row 0 on top, each cell annotated with
        /// <paramref name="label"/> (null or empty: no text), rows and columns named on the axes.
        /// </summary>
        /// <param name="plot">Target plot.</param>
        /// <param name="values">Cell values; NaN cells are left blank.</param>
        /// <param name="label">Text of cell (row, col).</param>
        /// <param name="rowNames">One name per row.</param>
        /// <param name="columnNames">One name per column.</param>
        /// <param name="colormap">Colours.</param>
        /// <param name="range">Value range mapped to the colormap.</param>
        /// <param name="colorBarLabel">Title of the colour bar.</param>
        public static void AnnotatedHeatmap(Plot plot, double[,] values, Func<int, int, string?> label, string[] rowNames,
            string[] columnNames, IColormap colormap, ScottPlot.Range range, string colorBarLabel)
        {
            var rows = values.GetLength(0);
            var cols = values.GetLength(1);
            var heatmap = plot.Add.Heatmap(values);
            heatmap.Colormap = colormap;
            heatmap.ManualRange = range;
            heatmap.NaNCellColor = Colors.White;
            var bar = plot.Add.ColorBar(heatmap);
            bar.Label = colorBarLabel;
            var fontSize = Math.Clamp(220f / Math.Max(rows, cols), 9f, 16f);
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < cols; c++)
                {
                    var text = label(r, c);
                    if (string.IsNullOrEmpty(text)) continue;
                    // ScottPlot draws data row 0 at the top: cell (r, c) is centred at (c, rows − 1 − r).
                    var annotation = plot.Add.Text(text, c, rows - 1 - r);
                    annotation.LabelAlignment = Alignment.MiddleCenter;
                    annotation.LabelFontSize = fontSize;
                    var fraction = double.IsNaN(values[r, c]) ? 0 : (values[r, c] - range.Min) / (range.Max - range.Min);
                    annotation.LabelFontColor = Contrast(colormap.GetColor(Math.Clamp(fraction, 0, 1)));
                }
            }
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                Enumerable.Range(0, cols).Select(c => (double)c).ToArray(), columnNames);
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(), rowNames);
            plot.Axes.SetLimits(-0.5, cols - 0.5, -0.5, rows - 0.5);
            plot.HideGrid();
        }

        /// <summary>Black or white, whichever reads better on <paramref name="background"/>.</summary>
        public static Color Contrast(Color background)
        {
            var luminance = (0.299 * background.R + 0.587 * background.G + 0.114 * background.B) / 255;
            return luminance > 0.55 ? Colors.Black : Colors.White;
        }

        /// <summary>A compact number for legends: 0, 0.001, 0.01, 1.</summary>
        public static string Number(double value) => value.ToString("G4", CultureInfo.InvariantCulture);

        /// <summary>Names 0, 1, … for the axes of a heatmap.</summary>
        public static string[] Indices(int count) => Enumerable.Range(0, count).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
    }
}
