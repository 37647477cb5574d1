using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using MoeLayers.Samples.Mnist.Output;
using MoeLayers.Samples.Mnist.Plots;
using MoeLayers.Samples.Mnist.Sweep;
using Spectre.Console;
using TorchSharp;

namespace MoeLayers.Samples.Mnist.Cli
{
    /// <summary><c>--sweep</c>: trains the grid, then writes results.csv, results.md and the figures.</summary>
    internal static class SweepCommand
    {
        public static int Execute(SampleOptions options)
        {
            torch.set_num_threads(options.Threads);
            var cases = SweepGrid.Cases(options.Experts, options.TopK, options.LoadCoefficients, options.Seeds, options.Router);
            var folder = Path.GetFullPath(options.OutputFolder);
            var (train, test) = DataLoading.Load(options);
            using (train)
            using (test)
            {
                var t = options.Training;
                AnsiConsole.MarkupLine($"Sweep: {cases.Count} runs of {t.Epochs} epoch(s), {options.Router} router, batch {t.BatchSize}, " +
                                       $"Adam lr {PlotStyle.Number(t.LearningRate)}, {options.Threads} libtorch thread(s); output in {Markup.Escape(folder)}.");
                var clock = Stopwatch.StartNew();
                IReadOnlyList<SweepRecord> records = Array.Empty<SweepRecord>();
                AnsiConsole.Progress()
                    .AutoClear(true)
                    .HideCompleted(true)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var overall = ctx.AddTask("Sweep", maxValue: cases.Count);
                        ProgressTask? current = null;
                        var stepsPerEpoch = 1;
                        records = SweepRunner.Run(cases, t, train, test,
                            runStarted: (i, c, steps) =>
                            {
                                overall.Description = $"Sweep {i + 1}/{cases.Count}";
                                current = ctx.AddTask($"{c.Model}, seed {c.Seed}", maxValue: steps);
                                stepsPerEpoch = steps / t.Epochs;
                            },
                            progress: p => current!.Value = (p.Epoch - 1) * stepsPerEpoch + p.Step,
                            runFinished: r =>
                            {
                                current!.StopTask();
                                current.IsIndeterminate = false;
                                overall.Increment(1);
                                AnsiConsole.MarkupLine($"{Markup.Escape(r.Model.ToString())}, seed {r.Seed}: test accuracy {r.Test.Accuracy * 100:F2}%, " +
                                                       $"gate loss {r.TrainGateLoss:F4} ({r.Seconds:F1} s)");
                            });
                    });

                var results = new SweepResults(records, t, options.Router);
                var figures = SweepFigures.WriteAll(results, folder);
                AtomicFile.WriteAllText(Path.Combine(folder, "results.csv"), ResultsTables.Csv(results));
                AtomicFile.WriteAllText(Path.Combine(folder, "results.md"),
                    ResultsTables.Markdown(results, CommandLine(options), figures, clock.Elapsed.TotalMinutes));
                if (results.Baseline is { } b) AnsiConsole.MarkupLine($"One expert: {b.MeanAccuracy * 100:F2}%.");
                if (results.Best is { } best)
                    AnsiConsole.MarkupLine($"[bold green]Best MoE: {Markup.Escape(best.Model.ToString())}: {best.MeanAccuracy * 100:F2}%.[/]");
                AnsiConsole.MarkupLine($"Wrote results.csv, results.md and {figures.Count} figures to {Markup.Escape(folder)} " +
                                       $"in {clock.Elapsed.TotalMinutes:F1} minutes.");
            }
            return 0;
        }

        /// <summary>The sample's command line that reproduces this sweep.</summary>
        private static string CommandLine(SampleOptions o)
        {
            var inv = CultureInfo.InvariantCulture;
            var parts = new List<string>
            {
                "dotnet run --project samples/Mnist -c Release -- --sweep",
                $"--experts {Ranges(o.Experts)}",
                $"--top-k {Ranges(o.TopK)}",
                $"--lc {string.Join(",", o.LoadCoefficients.Select(PlotStyle.Number))}",
                $"--seed {Ranges(o.Seeds)}",
                $"--router {o.Router}",
                $"--epochs {o.Training.Epochs}",
                $"--batch-size {o.Training.BatchSize}",
                $"--lr {PlotStyle.Number(o.Training.LearningRate)}",
                $"--threads {o.Threads}",
            };
            if (o.Training.TrainLimit is { } limit) parts.Add($"--train-limit {limit.ToString(inv)}");
            return string.Join(" ", parts);
        }

        /// <summary>1,2,3,5 → 1-3,5.</summary>
        private static string Ranges(IReadOnlyList<int> values)
        {
            var items = new List<string>();
            for (var i = 0; i < values.Count;)
            {
                var j = i;
                while (j + 1 < values.Count && values[j + 1] == values[j] + 1) j++;
                items.Add(j - i >= 2 ? $"{values[i]}-{values[j]}" : string.Join(",", values.Skip(i).Take(j - i + 1)));
                i = j + 1;
            }
            return string.Join(",", items);
        }
    }
}
