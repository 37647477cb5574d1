using System.IO;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Output;
using MoeLayers.Samples.Mnist.Plots;
using MoeLayers.Samples.Mnist.Sweep;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Tests
{
    [Collection(TorchTrainingCollection.Name)]
    public sealed class SweepOutputTests : System.IDisposable
    {
        private readonly MnistSubsets _data;
        private readonly TempFolder _temp = new();

        public SweepOutputTests(MnistSubsets data) => _data = data;

        public void Dispose() => _temp.Dispose();

        [Fact]
        public void A_tiny_sweep_writes_its_tables_and_every_figure()
        {
            var training = new TrainingSettings(Epochs: 1, BatchSize: 50, TrainLimit: 100, CurveInterval: 1);
            var cases = SweepGrid.Cases(new[] { 1, 2, 3 }, new[] { 1, 2 }, new[] { 0.0, 0.1 }, new[] { 1 }, RouterKind.TopK);
            var records = SweepRunner.Run(cases, training, _data.Train, _data.Test);
            var results = new SweepResults(records, training, RouterKind.TopK);

            var figures = SweepFigures.WriteAll(results, _temp.Path);
            AtomicFile.WriteAllText(_temp.File("results.csv"), ResultsTables.Csv(results));
            AtomicFile.WriteAllText(_temp.File("results.md"), ResultsTables.Markdown(results, "cmd", figures, 0.1));

            figures.Select(f => f.File).Should().Equal("accuracy-vs-experts.png", "loss-curves.png", "effect-of-k.png", "class-gain.png",
                "confusion-ne1.png", "confusion-best.png", "routing-ne2.png", "routing-ne3.png");
            foreach (var (file, _) in figures)
            {
                File.ReadAllBytes(_temp.File(file)).Take(8).Should().Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, file);
            }
            _temp.FileNames().Should().HaveCount(figures.Count + 2, "no temporary file is left behind");
            var csv = File.ReadAllLines(_temp.File("results.csv"));
            csv.Should().HaveCount(1 + 9, "a header and one row per run: ne = 1 once, ne = 2 and 3 with k ∈ {1, 2} × 2 lc");
            csv[1].Should().StartWith("TopK,1,1,0,1,1,50,0.002,100,");
            var markdown = File.ReadAllText(_temp.File("results.md"));
            markdown.Should().Contain("- Single expert (ne = 1): **").And.Contain("![routing-ne3.png](routing-ne3.png)");
            results.Best!.NumExperts.Should().BeGreaterThan(1);
        }
    }
}
