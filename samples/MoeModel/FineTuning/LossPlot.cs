using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ScottPlot;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>A fine-tune's loss curve as a PNG (ScottPlot) and its history as CSV, each written atomically.</summary>
    public static class LossPlot
    {
        /// <summary>The training loss per step, its mean over the last 10 steps, and the validation loss where scored, against the step.</summary>
        /// <param name="path">The PNG to write.</param>
        /// <param name="history">The steps.</param>
        /// <param name="title">The plot's title.</param>
        public static void SavePng(string path, IReadOnlyList<StepRecord> history, string title)
        {
            ArgumentNullException.ThrowIfNull(history);
            if (history.Count == 0) throw new ArgumentException("there is no step to plot.", nameof(history));
            var plot = new Plot();
            var steps = history.Select(r => (double)r.Step).ToArray();
            var raw = plot.Add.Scatter(steps, history.Select(r => r.Loss).ToArray());
            raw.LegendText = "loss per step";
            raw.LineWidth = 1;
            raw.MarkerSize = history.Count > 40 ? 0 : 4;
            var smoothed = plot.Add.Scatter(steps, history.Select((_, i) => history.Skip(Math.Max(0, i - 9)).Take(Math.Min(10, i + 1)).Average(r => r.Loss)).ToArray());
            smoothed.LegendText = "mean of the last 10 steps";
            smoothed.LineWidth = 2.5f;
            smoothed.MarkerSize = 0;
            var scored = history.Where(r => r.ValidationLoss is not null).ToList();
            if (scored.Count > 0)
            {
                var validation = plot.Add.Scatter(scored.Select(r => (double)r.Step).ToArray(), scored.Select(r => r.ValidationLoss!.Value).ToArray());
                validation.LegendText = "validation (held-out tokens)";
                validation.LineWidth = 2;
                validation.MarkerSize = 7;
            }
            plot.Title(title);
            plot.XLabel("optimizer step");
            plot.YLabel("next-token cross-entropy (nats per token)");
            plot.ShowLegend(Alignment.UpperRight);
            AtomicWrites.ReplaceFile(path, plot.GetImageBytes(900, 540, ImageFormat.Png));
        }

        /// <summary>step,loss,aux_loss,learning_rate,grad_norm,seconds,cpu_seconds,tokens_per_second,validation_loss (empty where not scored), one line per step.</summary>
        /// <param name="path">The CSV to write.</param>
        /// <param name="history">The steps.</param>
        public static void SaveCsv(string path, IReadOnlyList<StepRecord> history)
        {
            ArgumentNullException.ThrowIfNull(history);
            var text = new StringBuilder("step,loss,aux_loss,learning_rate,grad_norm,seconds,cpu_seconds,tokens_per_second,validation_loss\n");
            foreach (var r in history)
                text.Append(CultureInfo.InvariantCulture, $"{r.Step},{r.Loss:R},{r.AuxiliaryLoss:R},{r.LearningRate:R},{r.GradientNorm:R},{r.Seconds:R},{r.CpuSeconds:R},{r.TokensPerSecond:R},{r.ValidationLoss?.ToString("R", CultureInfo.InvariantCulture)}\n");
            AtomicWrites.ReplaceFile(path, Encoding.UTF8.GetBytes(text.ToString()));
        }
    }
}
