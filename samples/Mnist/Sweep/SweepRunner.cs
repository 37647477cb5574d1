using System;
using System.Collections.Generic;
using MoeLayers.Samples.Mnist.Training;

namespace MoeLayers.Samples.Mnist.Sweep
{
    /// <summary>Trains the runs of a sweep one after the other and keeps what the tables and figures need.</summary>
    public static class SweepRunner
    {
        /// <summary>Runs every case with <paramref name="training"/> (its seed replaced by the case's).</summary>
        /// <param name="cases">The grid.</param>
        /// <param name="training">Epochs, batch size, learning rate, data limit.</param>
        /// <param name="train">Training split.</param>
        /// <param name="test">Test split.</param>
        /// <param name="runStarted">Called before each run with its index and its step count.</param>
        /// <param name="progress">Called every few steps of the current run.</param>
        /// <param name="runFinished">Called after each run.</param>
        public static IReadOnlyList<SweepRecord> Run(IReadOnlyList<SweepCase> cases, TrainingSettings training, MnistTensors train,
            MnistTensors test, Action<int, SweepCase, int>? runStarted = null, Action<TrainingProgress>? progress = null,
            Action<SweepRecord>? runFinished = null)
        {
            ArgumentNullException.ThrowIfNull(cases);
            ArgumentNullException.ThrowIfNull(training);
            var images = training.TrainLimit ?? (int)train.Count;
            var totalSteps = training.Epochs * ((images + training.BatchSize - 1) / training.BatchSize);
            var records = new List<SweepRecord>(cases.Count);
            for (var i = 0; i < cases.Count; i++)
            {
                var sweepCase = cases[i];
                runStarted?.Invoke(i, sweepCase, totalSteps);
                var trainer = new Trainer(sweepCase.Model, training with { Seed = sweepCase.Seed }) { Progress = progress };
                using var run = trainer.Run(train, test);
                var last = run.Epochs[^1];
                double seconds = 0;
                foreach (var epoch in run.Epochs) seconds += epoch.Seconds;
                var record = new SweepRecord(sweepCase.Model, sweepCase.Seed, last.Test, last.TrainNetworkLoss, last.TrainGateLoss,
                    run.Curve, seconds);
                records.Add(record);
                runFinished?.Invoke(record);
            }
            return records;
        }
    }
}
