using System;
using System.Linq;
using FluentAssertions;
using MoeLayers.Samples.MoeModel;

namespace MoeLayers.Samples.Tests.MoeModel
{
    /// <summary>The learning-rate schedule against hand-computed values, the batches' draw, and the options' checks.</summary>
    public sealed class FineTuningScheduleTests
    {
        [Fact]
        public void WarmupRisesLinearlyThenTheCosineFallsToTheFloor()
        {
            var options = new FineTuneOptions { Steps = 12, WarmupSteps = 2, LearningRate = 1e-3, MinLearningRateRatio = 0.1 };
            LearningRateSchedule.At(0, options).Should().BeApproximately(0.5e-3, 1e-15);
            LearningRateSchedule.At(1, options).Should().BeApproximately(1e-3, 1e-15);
            LearningRateSchedule.At(2, options).Should().BeApproximately(1e-3, 1e-15, "p = 0 right after warmup");
            // s = 7: p = 5/10, cos(π/2) = 0: 1e-3·(0.1 + 0.9·0.5).
            LearningRateSchedule.At(7, options).Should().BeApproximately(0.55e-3, 1e-15);
            // s = 11: p = 9/10: 1e-3·(0.1 + 0.9·0.5·(1 + cos(0.9π))).
            LearningRateSchedule.At(11, options).Should().BeApproximately(1e-3 * (0.1 + 0.45 * (1 + Math.Cos(0.9 * Math.PI))), 1e-15);
            var outside = () => LearningRateSchedule.At(12, options);
            outside.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("step");
        }

        [Fact]
        public void BatchesDependOnSeedStepAndMicroBatchOnly()
        {
            var tokens = Enumerable.Range(0, 1000).ToArray();
            var windows = new TrainingWindows(tokens, sequenceLength: 16, seed: 7);
            var again = new TrainingWindows(tokens, sequenceLength: 16, seed: 7);
            windows.Starts(3, 1, 8).Should().Equal(again.Starts(3, 1, 8), "the same draw in another instance (and process: no salted hash)");
            windows.Starts(3, 1, 8).Should().NotEqual(windows.Starts(3, 0, 8));
            windows.Starts(3, 1, 8).Should().NotEqual(windows.Starts(4, 1, 8));
            new TrainingWindows(tokens, 16, seed: 8).Starts(3, 1, 8).Should().NotEqual(windows.Starts(3, 1, 8));
            var all = Enumerable.Range(0, 200).SelectMany(s => windows.Starts(s, 0, 8)).ToList();
            all.Should().OnlyContain(s => s >= 0 && s <= 1000 - 17, "a sequence of 16 inputs needs 17 tokens");
            all.Max().Should().BeGreaterThan(900, "the draw covers the whole stream");

            using var batch = windows.Batch(5, 0, 4);
            batch.shape.Should().Equal(4, 17);
            var starts = windows.Starts(5, 0, 4);
            for (var b = 0; b < 4; b++)
                batch[b].data<long>().ToArray().Should().Equal(Enumerable.Range(starts[b], 17).Select(i => (long)i), "the ids are the stream's tokens from the start");
        }

        [Fact]
        public void ShortStreamsAndBadOptionsAreRefusedByName()
        {
            var shortStream = () => new TrainingWindows(new int[10], sequenceLength: 10, seed: 0);
            shortStream.Should().Throw<ArgumentException>().WithMessage("*10 tokens*at least 11*");
            var warmup = () => new FineTuneOptions { Steps = 5, WarmupSteps = 5 }.Validate();
            warmup.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("WarmupSteps").WithMessage("*in [0, Steps = 5)*");
            var rate = () => new FineTuneOptions { LearningRate = double.NaN }.Validate();
            rate.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("LearningRate");
            var ratio = () => new FineTuneOptions { MinLearningRateRatio = 1.5 }.Validate();
            ratio.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("MinLearningRateRatio");
            var settings = () => new AdapterSettings(0, 8, false, AdapterTargets.Experts).Validate();
            settings.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("Rank");
            var targets = () => new AdapterSettings(4, 8, false, AdapterTargets.None).Validate();
            targets.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("Targets");
        }
    }
}
