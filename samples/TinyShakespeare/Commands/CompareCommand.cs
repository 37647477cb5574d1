using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using MoeLayers.Samples.TinyShakespeare.Comparison;
using MoeLayers.Samples.TinyShakespeare.Data;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Reporting;
using MoeLayers.Samples.TinyShakespeare.Storage;
using MoeLayers.Samples.TinyShakespeare.Training;
using Spectre.Console;

namespace MoeLayers.Samples.TinyShakespeare.Commands
{
    /// <summary>
    /// The <c>compare</c> command: trains the same model once per router, with the same budget, data and seed, each in its
    /// own process, then writes a Markdown table and one plot of the validation curves.
    /// </summary>
    internal static class CompareCommand
    {
        /// <summary>File name of the Markdown table inside the output folder.</summary>
        public const string TableFileName = "comparison.md";

        /// <summary>File name of the validation-curve plot inside the output folder.</summary>
        public const string PlotFileName = "validation.png";

        private static readonly Option<string> PresetOption = new("--preset")
        {
            Description = "Model every router is trained in: " + string.Join(", ", Preset.All.Select(p => p.Name)) + ".",
            DefaultValueFactory = _ => Preset.Quick.Name,
        };

        private static readonly Option<string?> RoutersOption = new("--routers")
        {
            Description = "Comma-separated routers or layer styles to compare (default: every one that keeps the model causal): " + RouterNames.Help,
        };

        private static readonly Option<bool> AllowFutureLeakOption = new("--allow-future-leak")
        {
            Description = "Also accept routers that leak future tokens (expert choice); their losses are not comparable.",
        };

        private static readonly Option<int?> IterationsOption = new("--iterations")
        {
            Description = "Optimizer steps per router, the same for all (default: the preset's budget).",
        };

        private static readonly Option<int?> EvalIntervalOption = new("--eval-interval") { Description = "Steps between loss estimates (default: the preset's)." };
        private static readonly Option<int?> EvalBatchesOption = new("--eval-batches") { Description = "Batches per split in each periodic estimate." };
        private static readonly Option<int?> FinalEvalBatchesOption = new("--final-eval-batches") { Description = "Batches per split in the final estimate." };
        private static readonly Option<int> SeedOption = new("--seed") { Description = "The seed every run uses (when --seeds is not given).", DefaultValueFactory = _ => 1337 };
        private static readonly Option<string?> SeedsOption = new("--seeds")
        {
            Description = "Comma-separated seeds, e.g. 1337,1338,1339: every router is trained once per seed and the table gives mean ± sample std over them.",
        };
        private static readonly Option<string> DataOption = new("--data")
        {
            Description = "UTF-8 text file to train on (default: the bundled tiny-shakespeare).",
            DefaultValueFactory = _ => TextCorpus.DefaultPath,
        };

        private static readonly Option<string?> OutOption = new("--out") { Description = "Output folder (default: runs/compare-<preset>); one subfolder per router, replaced on each compare." };
        private static readonly Option<int?> ThreadsOption = new("--threads") { Description = "libtorch intra-op threads of each run (default: all cores)." };

        public static Command Create()
        {
            var command = new Command("compare", "Train every router with the same budget and seed; write a table and a plot of validation curves.")
            {
                PresetOption, RoutersOption, AllowFutureLeakOption, IterationsOption, EvalIntervalOption, EvalBatchesOption,
                FinalEvalBatchesOption, SeedOption, SeedsOption, DataOption, OutOption, ThreadsOption,
            };
            command.SetAction((parse, cancellation) =>
                System.Threading.Tasks.Task.FromResult(CommandErrors.Run(() => Run(parse, cancellation))));
            return command;
        }

        private static int Run(ParseResult parse, CancellationToken cancellation)
        {
            var preset = Preset.Parse(parse.GetValue(PresetOption)!);
            var allowLeak = parse.GetValue(AllowFutureLeakOption);
            var routers = parse.GetValue(RoutersOption) is { } list
                ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => RouterNames.ParseChoice(n, allowLeak)).Distinct().ToArray()
                : (allowLeak ? RouterNames.AllChoices : RouterNames.CausalChoices).ToArray();
            if (routers.Length == 0) throw new ArgumentException("--routers must name at least one router.");
            var iterations = parse.GetValue(IterationsOption) ?? preset.Training.Iterations;
            if (iterations < 1) throw new ArgumentException($"--iterations must be at least 1; got {iterations}.");
            var seeds = parse.GetValue(SeedsOption) is { } seedList ? ParseSeeds(seedList) : new[] { parse.GetValue(SeedOption) };
            var outFolder = parse.GetValue(OutOption) ?? Path.Combine("runs", $"compare-{preset.Name}");
            var data = parse.GetValue(DataOption)!;
            if (!File.Exists(data)) throw new FileNotFoundException($"No text file at {data}.", data);

            var common = new List<string>
            {
                "train",
                "--preset", preset.Name,
                "--iterations", Invariant(iterations),
                "--data", data,
                "--overwrite",
            };
            if (allowLeak) common.Add("--allow-future-leak");
            AddIfGiven(common, "--eval-interval", parse.GetValue(EvalIntervalOption));
            AddIfGiven(common, "--eval-batches", parse.GetValue(EvalBatchesOption));
            AddIfGiven(common, "--final-eval-batches", parse.GetValue(FinalEvalBatchesOption));
            AddIfGiven(common, "--threads", parse.GetValue(ThreadsOption));

            var summaries = new List<RunSummary>();
            var failures = new List<(string, int)>();
            // Seeds outermost, so an interrupted compare already has every router at the first seeds.
            foreach (var seed in seeds)
            {
                foreach (var router in routers)
                {
                    var name = router.Name;
                    var runFolder = seeds.Length == 1 ? Path.Combine(outFolder, name) : Path.Combine(outFolder, name, $"seed-{Invariant(seed)}");
                    AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(name)}, seed {seed}[/]").LeftJustified());
                    var exitCode = SelfProcess.Run(new List<string>(common) { "--router", name, "--seed", Invariant(seed), "--out", runFolder }, cancellation);
                    if (cancellation.IsCancellationRequested) return 130;
                    if (exitCode != 0)
                    {
                        AnsiConsole.MarkupLine($"[red]{Markup.Escape(name)} (seed {seed}) failed with exit code {exitCode}.[/]");
                        failures.Add(($"{name} (seed {seed})", exitCode));
                        continue;
                    }
                    var summaryPath = Path.Combine(runFolder, RunSummary.FileName);
                    summaries.Add(JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(summaryPath), Checkpoint.JsonOptions)
                        ?? throw new InvalidDataException($"{summaryPath} is empty."));
                    // Rewritten after every run, so a long compare can be read (and survives) while it goes on.
                    WriteTables(outFolder, summaries, failures, seeds.Length);
                }
            }

            if (summaries.Count > 0)
            {
                AnsiConsole.Write(new Rule("[bold]comparison[/]").LeftJustified());
                ComparisonReport.Write(summaries);
                var aggregates = SeedAggregate.Group(summaries);
                if (seeds.Length > 1) ComparisonReport.WriteAggregate(aggregates);
                LossPlot.SaveValidationComparison(Path.Combine(outFolder, PlotFileName),
                    aggregates.Select(a => (a.Router, a.MeanHistory)).ToArray(),
                    seeds.Length == 1
                        ? $"validation loss, {preset.Name} preset, {iterations} steps, seed {seeds[0]}"
                        : $"validation loss (mean of {seeds.Length} seeds), {preset.Name} preset, {iterations} steps");
                AnsiConsole.MarkupLine($"Wrote {Markup.Escape(outFolder)}/{{{TableFileName}, {PlotFileName}}}.");
            }
            return failures.Count == 0 ? 0 : 1;
        }

        /// <summary>The comparison tables: per router over the seeds (when there are several), then per run.</summary>
        private static void WriteTables(string outFolder, IReadOnlyList<RunSummary> summaries, IReadOnlyList<(string, int)> failures, int seeds)
        {
            var text = seeds == 1
                ? ComparisonReport.ToMarkdown(summaries, failures)
                : "Mean ± sample standard deviation (n − 1) over the seeds; load figures from the per-step expert counts, averaged over layers.\n\n" +
                  ComparisonReport.ToAggregateMarkdown(SeedAggregate.Group(summaries), failures) + "\nEvery run:\n\n" +
                  ComparisonReport.ToMarkdown(summaries, Array.Empty<(string, int)>());
            Directory.CreateDirectory(outFolder);
            AtomicFile.WriteAllText(Path.Combine(outFolder, TableFileName), text);
        }

        /// <summary>Parses "1337,1338,1339" into distinct seeds, in order.</summary>
        /// <exception cref="ArgumentException">An entry is not an integer, or the list is empty.</exception>
        public static int[] ParseSeeds(string list)
        {
            ArgumentNullException.ThrowIfNull(list);
            var seeds = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
                    ? seed
                    : throw new ArgumentException($"--seeds must be comma-separated integers; got '{s}'."))
                .Distinct().ToArray();
            if (seeds.Length == 0) throw new ArgumentException("--seeds must name at least one seed.");
            return seeds;
        }

        private static void AddIfGiven(List<string> arguments, string name, int? value)
        {
            if (value is null) return;
            arguments.Add(name);
            arguments.Add(Invariant(value.Value));
        }

        private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
