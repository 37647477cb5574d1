using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.Mnist.Model;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Tests
{
    [Collection(TorchTrainingCollection.Name)]
    public sealed class TrainerTests
    {
        private readonly MnistSubsets _data;

        public TrainerTests(MnistSubsets data) => _data = data;

        [Fact]
        public void A_tiny_run_learns_far_above_chance()
        {
            var trainer = new Trainer(new MnistMoeSettings(4, 2, 0.1), new TrainingSettings(Epochs: 5, BatchSize: 25, TrainLimit: 500));

            using var run = trainer.Run(_data.Train, _data.Test);

            run.Epochs.Should().HaveCount(5);
            run.FinalTest.Total.Should().Be(1000);
            // Chance is 10%; 500 images and five epochs get this model to 75-80% (seeds 1 and 2 on the full test set).
            run.FinalTest.Accuracy.Should().BeGreaterThan(0.5);
            run.Epochs[^1].TrainNetworkLoss.Should().BeLessThan(run.Epochs[0].TrainNetworkLoss);
        }

        [Theory]
        [InlineData(RouterKind.TopK, 2)]
        [InlineData(RouterKind.NoisyTopK, 2)]
        [InlineData(RouterKind.Switch, 1)]
        [InlineData(RouterKind.AutonomyOfExperts, 2)]
        public void The_same_seed_gives_the_same_numbers(RouterKind router, int topK)
        {
            var settings = new MnistMoeSettings(3, topK, 0.01, router);
            var training = new TrainingSettings(Epochs: 2, BatchSize: 50, Seed: 7, TrainLimit: 300, CurveInterval: 2);

            var first = Summary(settings, training);
            var second = Summary(settings, training);
            var otherSeed = Summary(settings, training with { Seed = 8 });

            second.Should().Equal(first);
            otherSeed.Should().NotEqual(first);
        }

        [Fact]
        public void Curve_windows_average_the_steps_and_end_with_each_epoch()
        {
            // 300 images in batches of 50: 6 steps per epoch, windows of 4 steps → points at 4/6, 6/6, 1 + 4/6, 2.
            var trainer = new Trainer(new MnistMoeSettings(2, 1, 0), new TrainingSettings(Epochs: 2, BatchSize: 50, TrainLimit: 300, CurveInterval: 4));

            using var run = trainer.Run(_data.Train, _data.Test);

            run.Curve.Select(p => p.Epochs).Should().Equal(new[] { 4 / 6.0, 1.0, 1 + 4 / 6.0, 2.0 }, (a, b) => Math.Abs(a - b) < 1e-12);
            var epochMean = (run.Curve[0].NetworkLoss * 4 + run.Curve[1].NetworkLoss * 2) / 6;
            epochMean.Should().BeApproximately(run.Epochs[0].TrainNetworkLoss, 1e-9);
        }

        [Fact]
        public void Bad_settings_are_rejected_before_training()
        {
            FluentActions.Invoking(() => new Trainer(new MnistMoeSettings(2, 3, 0), new TrainingSettings()))
                .Should().Throw<ArgumentException>().WithMessage("*TopK must be in [1, NumExperts = 2]; got 3*");
            FluentActions.Invoking(() => new Trainer(new MnistMoeSettings(4, 2, 0, RouterKind.Switch), new TrainingSettings()))
                .Should().Throw<ArgumentException>().WithMessage("*TopK must be 1 for the Switch router*");
            FluentActions.Invoking(() => new Trainer(new MnistMoeSettings(2, 1, -1), new TrainingSettings()))
                .Should().Throw<ArgumentException>().WithMessage("*LoadBalancingCoefficient must be a finite number ≥ 0; got -1*");
            FluentActions.Invoking(() => new Trainer(new MnistMoeSettings(2, 1, 0), new TrainingSettings(BatchSize: 0)))
                .Should().Throw<ArgumentException>().WithMessage("BatchSize must be at least 1; got 0.*");
            FluentActions.Invoking(() => new Trainer(new MnistMoeSettings(2, 1, 0), new TrainingSettings(TrainLimit: 5000)).Run(_data.Train, _data.Test))
                .Should().Throw<ArgumentException>().WithMessage("TrainLimit 5000 exceeds the 1000 training images.*");
        }

        /// <summary>Every number a run prints or plots, as one list.</summary>
        private double[] Summary(MnistMoeSettings settings, TrainingSettings training)
        {
            using var run = new Trainer(settings, training).Run(_data.Train, _data.Test);
            return run.Epochs.SelectMany(e => new[] { e.TrainNetworkLoss, e.TrainGateLoss, e.Test.Accuracy, e.Test.NetworkLoss })
                .Concat(run.Curve.SelectMany(p => new[] { p.NetworkLoss, p.GateLoss }))
                .Concat(run.FinalTest.Routing.Cast<long>().Select(c => (double)c))
                .ToArray();
        }
    }
}
