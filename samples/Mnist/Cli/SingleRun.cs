using System.Globalization;
using System.Linq;
using MoeLayers.Samples.Mnist.Model;
using MoeLayers.Samples.Mnist.Training;
using Spectre.Console;
using TorchSharp;

namespace MoeLayers.Samples.Mnist.Cli
{
    /// <summary>The default command: train one configuration, print the test accuracy after every epoch and the routing.</summary>
    internal static class SingleRun
    {
        public static int Execute(SampleOptions options)
        {
            torch.set_num_threads(options.Threads);
            var model = new MnistMoeSettings(options.Experts[0], options.TopK[0], options.LoadCoefficients[0], options.Router);
            model.Validate();
            var training = options.Training;
            var (train, test) = DataLoading.Load(options);
            using (train)
            using (test)
            {
                AnsiConsole.MarkupLine(
                    $"Model: {model.Router} router (linear, no bias) over {MnistMoeSettings.InputDim} pixels, ne = {model.NumExperts} experts " +
                    $"{MnistMoeSettings.InputDim} → {MnistMoeSettings.ExpertHiddenDim} → {MnistMoeSettings.ClassCount} (ReLU), k = {model.TopK}, " +
                    $"loss = cross-entropy + {Format(model.LoadCoefficient)} × CV² gate loss.");
                AnsiConsole.MarkupLine(
                    $"Training: {training.Epochs} epoch{(training.Epochs == 1 ? "" : "s")}, batch {training.BatchSize}, Adam lr {Format(training.LearningRate)}, " +
                    $"seed {training.Seed}, {options.Threads} libtorch thread(s).");

                TrainingRun? run = null;
                AnsiConsole.Progress()
                    .AutoClear(true)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        ProgressTask? bar = null;
                        var trainer = new Trainer(model, training)
                        {
                            Progress = p =>
                            {
                                bar ??= ctx.AddTask($"Epoch {p.Epoch}/{training.Epochs}", maxValue: p.StepsPerEpoch);
                                bar.Value = p.Step;
                                bar.Description = $"Epoch {p.Epoch}/{training.Epochs}  loss {p.NetworkLoss:F3}";
                            },
                            EpochFinished = e =>
                            {
                                bar?.StopTask();
                                bar = null;
                                AnsiConsole.MarkupLine(
                                    $"Epoch {e.Epoch}/{training.Epochs}: network loss {e.TrainNetworkLoss:F4}, gate loss {e.TrainGateLoss:F4}, " +
                                    $"[bold]test accuracy {e.Test.Accuracy * 100:F2}%[/] ({e.Seconds:F1} s)");
                            },
                        };
                        run = trainer.Run(train, test);
                    });
                using (run)
                {
                    var final = run!.FinalTest;
                    AnsiConsole.MarkupLine($"[bold green]Test accuracy: {final.Accuracy * 100:F2}%[/] ({final.Correct:N0} of {final.Total:N0}), {model}.");
                    if (model.NumExperts > 1) AnsiConsole.Write(RoutingTable(final));
                }
            }
            return 0;
        }

        /// <summary>Experts × digits: the share of each digit's test assignments that went to each expert.</summary>
        private static Table RoutingTable(Evaluation test)
        {
            var shares = test.RoutingSharesPerClass();
            var table = new Table().Title("Routing of the test images: % of each digit's assignments per expert");
            table.AddColumn("expert");
            for (var c = 0; c < test.ClassCount; c++) table.AddColumn(new TableColumn(c.ToString(CultureInfo.InvariantCulture)).RightAligned());
            for (var e = 0; e < test.ExpertCount; e++)
            {
                var cells = Enumerable.Range(0, test.ClassCount).Select(c =>
                {
                    var text = (shares[e, c] * 100).ToString("F0", CultureInfo.InvariantCulture);
                    return shares[e, c] >= 0.25 ? $"[bold]{text}[/]" : shares[e, c] < 0.005 ? $"[grey]{text}[/]" : text;
                });
                table.AddRow(new[] { e.ToString(CultureInfo.InvariantCulture) }.Concat(cells).ToArray());
            }
            return table;
        }

        private static string Format(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
    }
}
