using System;
using System.CommandLine;
using MoeLayers.Samples.Mnist.Data;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Mnist.Cli
{
    /// <summary>
    /// The command line. Without arguments: one MoE configuration trained for a few epochs. With <c>--sweep</c>: the grid
    /// of ne × k × lc × seeds, written to a folder as tables and plots. The same options take one value for a run and a
    /// list or range for a sweep.
    /// </summary>
    public static class MnistCommand
    {
        /// <summary>Default run: ne.</summary>
        public const int DefaultExperts = 8;

        /// <summary>Default run: k.</summary>
        public const int DefaultTopK = 2;

        /// <summary>Default run: lc.</summary>
        public const double DefaultLoadCoefficient = 0.1;

        /// <summary>Default run: epochs.</summary>
        public const int DefaultEpochs = 5;

        /// <summary>Default sweep grid: ne.</summary>
        public const string SweepExperts = "1-10";

        /// <summary>Default sweep grid: k.</summary>
        public const string SweepTopK = "1,2,3";

        /// <summary>Default sweep grid: lc.</summary>
        public const string SweepLoadCoefficients = "0,1e-3,1e-2,1e-1,1";

        /// <summary>Default sweep: epochs per run (one keeps the 131-run grid within minutes on two cores).</summary>
        public const int SweepEpochs = 1;

        /// <summary>Builds the root command; <paramref name="run"/> and <paramref name="sweep"/> get the parsed options.</summary>
        /// <param name="run">Trains one configuration; returns the exit code.</param>
        /// <param name="sweep">Runs the grid; returns the exit code.</param>
        public static RootCommand Create(Func<SampleOptions, int> run, Func<SampleOptions, int> sweep)
        {
            var sweepOption = new Option<bool>("--sweep")
            {
                Description = "Train every combination of --experts, --top-k, --lc and --seed and write a results table and plots to --output.",
            };
            var experts = ListOption("--experts", $"Number of experts ne. A run takes one value (default {DefaultExperts}); a sweep takes a list or range (default {SweepExperts}).");
            var topK = ListOption("--top-k", $"Experts per image k. Default {DefaultTopK}; sweep default {SweepTopK} (combinations with k > ne are skipped).");
            var lc = ListOption("--lc", $"Weight lc of the CV² load-balancing (gate) loss. Default {DefaultLoadCoefficient}; sweep default {SweepLoadCoefficients}.");
            var seed = ListOption("--seed", "Seed of the initial weights, router noise and shuffling. Default 1; a sweep may list several (e.g. 1,2,3) and reports means.");
            var router = new Option<RouterKind>("--router")
            {
                Description = "Routing rule: " + string.Join(", ", Enum.GetNames<RouterKind>()) + ". Switch needs k = 1.",
                DefaultValueFactory = _ => RouterKind.TopK,
            };
            var epochs = new Option<int?>("--epochs") { Description = $"Passes over the training set. Default {DefaultEpochs}; sweep default {SweepEpochs}." };
            var batchSize = new Option<int>("--batch-size") { Description = "Images per Adam step.", DefaultValueFactory = _ => 64 };
            var learningRate = new Option<double>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => 2e-3 };
            var trainLimit = new Option<int?>("--train-limit") { Description = "Train on the first N training images only (the test set stays whole). Default: all 60,000." };
            var threads = new Option<int>("--threads")
            {
                Description = "libtorch CPU threads. Default 1: this model's ops are tiny, so more threads mostly add overhead. Results are reproducible for a fixed thread count.",
                DefaultValueFactory = _ => 1,
            };
            var output = new Option<string>("--output") { Description = "Folder a sweep writes to.", DefaultValueFactory = _ => "mnist-sweep" };
            var data = new Option<string>("--data") { Description = "Folder holding the MNIST files.", DefaultValueFactory = _ => MnistDataset.DefaultFolder };
            var download = new Option<bool>("--download") { Description = "Fetch missing MNIST files from the usual mirrors first." };

            var root = new RootCommand(
                "Mixture-of-Experts on MNIST: a linear router over the pixels and experts 784→10→10, trained on cross-entropy " +
                "plus lc × the CV² load-balancing loss. Without options: ne=8, k=2, lc=0.1 for 5 epochs.")
            {
                sweepOption, experts, topK, lc, router, seed, epochs, batchSize, learningRate, trainLimit, threads, output, data, download,
            };
            root.SetAction(parse =>
            {
                var isSweep = parse.GetValue(sweepOption);
                try
                {
                    var seeds = ValueList.Integers(parse.GetValue(seed) ?? "1");
                    var options = new SampleOptions(
                        DataFolder: parse.GetValue(data)!,
                        Download: parse.GetValue(download),
                        Threads: parse.GetValue(threads),
                        Router: parse.GetValue(router),
                        Experts: ValueList.Integers(parse.GetValue(experts) ?? (isSweep ? SweepExperts : DefaultExperts.ToString())),
                        TopK: ValueList.Integers(parse.GetValue(topK) ?? (isSweep ? SweepTopK : DefaultTopK.ToString())),
                        LoadCoefficients: ValueList.Numbers(parse.GetValue(lc) ?? (isSweep ? SweepLoadCoefficients : DefaultLoadCoefficient.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
                        Seeds: seeds,
                        Training: new TrainingSettings(
                            Epochs: parse.GetValue(epochs) ?? (isSweep ? SweepEpochs : DefaultEpochs),
                            BatchSize: parse.GetValue(batchSize),
                            LearningRate: parse.GetValue(learningRate),
                            Seed: seeds[0],
                            TrainLimit: parse.GetValue(trainLimit)),
                        OutputFolder: parse.GetValue(output)!);
                    options.Training.Validate();
                    if (!isSweep) RequireSingleValues(options);
                    if (options.Threads < 1) throw new ArgumentException($"--threads must be at least 1; got {options.Threads}.");
                    return isSweep ? sweep(options) : run(options);
                }
                catch (Exception e) when (e is FormatException or ArgumentException)
                {
                    Console.Error.WriteLine(e.Message);
                    return 2;
                }
            });
            return root;
        }

        private static void RequireSingleValues(SampleOptions o)
        {
            var lists = new (string Name, int Count)[]
            {
                ("--experts", o.Experts.Count), ("--top-k", o.TopK.Count), ("--lc", o.LoadCoefficients.Count), ("--seed", o.Seeds.Count),
            };
            foreach (var (name, count) in lists)
            {
                if (count != 1) throw new ArgumentException($"{name} takes a single value without --sweep; got {count} values.");
            }
        }

        private static Option<string?> ListOption(string name, string description) => new(name) { Description = description };
    }
}
