using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MoeLayers.Samples.TinyShakespeare.Training;
using Spectre.Console;

namespace MoeLayers.Samples.TinyShakespeare.Reporting
{
    /// <summary>
    /// Shows training progress: a live progress bar with tokens/s and the current losses when the console is
    /// interactive, a plain line every <see cref="PlainStepInterval"/> steps otherwise (logs, nohup); a line per loss
    /// estimate in both cases.
    /// </summary>
    public sealed class ConsoleReporter : ITrainingObserver
    {
        /// <summary>Steps between plain progress lines on a non-interactive console.</summary>
        public const int PlainStepInterval = 100;

        private ProgressTask? _task;
        private double _smoothedLoss = double.NaN;

        /// <summary>Runs <paramref name="train"/> with progress shown from <paramref name="startIteration"/> to <paramref name="iterations"/>.</summary>
        public static TrainingResult Run(int startIteration, int iterations, Func<ITrainingObserver, TrainingResult> train)
        {
            var reporter = new ConsoleReporter();
            if (!AnsiConsole.Profile.Capabilities.Interactive) return train(reporter);
            TrainingResult? result = null;
            AnsiConsole.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                    new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    reporter._task = context.AddTask("training", maxValue: iterations);
                    reporter._task.Value = startIteration;
                    result = train(reporter);
                });
            return result!;
        }

        /// <inheritdoc />
        public void OnStep(int iteration, double loss, double auxiliaryLoss, double tokensPerSecond)
        {
            _smoothedLoss = double.IsNaN(_smoothedLoss) ? loss : 0.95 * _smoothedLoss + 0.05 * loss;
            var text = (
                $"step {iteration}  loss {_smoothedLoss:F3}  aux {auxiliaryLoss:F4}  {tokensPerSecond:N0} tok/s");
            if (_task is not null)
            {
                _task.Value = iteration;
                _task.Description = Markup.Escape(text);
            }
            else if (iteration % PlainStepInterval == 0)
            {
                Console.WriteLine(text);
            }
        }

        /// <inheritdoc />
        public void OnEvaluation(EvaluationPoint point, IReadOnlyList<LayerRouting> routing)
        {
            var worst = routing.OrderByDescending(r => r.MaxMeanLoadRatio).First();
            var line = (
                $"eval @ {point.Iteration}: train {point.TrainLoss:F4}  val {point.ValidationLoss:F4}  | routing max/mean load " +
                $"{routing.Average(r => r.MaxMeanLoadRatio):F2} (worst layer {worst.Layer}: {worst.MaxMeanLoadRatio:F2}), " +
                $"dropped {routing.Average(r => r.DroppedFraction):P1}  | {point.TrainingSeconds:F0} s training");
            if (_task is not null) AnsiConsole.MarkupLine(Markup.Escape(line));
            else Console.WriteLine(line);
        }

        /// <summary>Prints the share of (token, slot) pairs each expert got, per layer, with the dropped fraction.</summary>
        public static void WriteRoutingTable(IReadOnlyList<LayerRouting> routing)
        {
            if (routing.Count == 0) return;
            var experts = routing[0].TokensPerExpert.Length;
            var table = new Table().Title("share of routed (token, slot) pairs per expert, %").Border(TableBorder.Rounded);
            table.AddColumn("layer");
            for (var e = 0; e < experts; e++) table.AddColumn(new TableColumn($"e{e}").RightAligned());
            table.AddColumn(new TableColumn("max/mean").RightAligned());
            table.AddColumn(new TableColumn("dropped %").RightAligned());
            foreach (var layer in routing)
            {
                var cells = new List<string> { layer.Layer.ToString(CultureInfo.InvariantCulture) };
                cells.AddRange(layer.Shares.Select(s => (100 * s).ToString("F1", CultureInfo.InvariantCulture)));
                cells.Add(layer.MaxMeanLoadRatio.ToString("F2", CultureInfo.InvariantCulture));
                cells.Add((100 * layer.DroppedFraction).ToString("F2", CultureInfo.InvariantCulture));
                table.AddRow(cells.Select(Markup.Escape).ToArray());
            }
            AnsiConsole.Write(table);
        }
    }
}
