using System;
using System.Collections.Generic;
using MoeLayers.Samples.Mnist.Model;

namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>A finished training run: the trained model (owned; dispose the run), its epochs and its loss curve.</summary>
    public sealed class TrainingRun : IDisposable
    {
        /// <summary>Bundles the results.</summary>
        public TrainingRun(MnistMoeClassifier model, TrainingSettings training, IReadOnlyList<EpochRecord> epochs,
            IReadOnlyList<CurvePoint> curve)
        {
            Model = model;
            Training = training;
            Epochs = epochs;
            Curve = curve;
        }

        /// <summary>The trained model.</summary>
        public MnistMoeClassifier Model { get; }

        /// <summary>ne, k, lc and the router kind.</summary>
        public MnistMoeSettings Settings => Model.Settings;

        /// <summary>How it was trained.</summary>
        public TrainingSettings Training { get; }

        /// <summary>One record per epoch.</summary>
        public IReadOnlyList<EpochRecord> Epochs { get; }

        /// <summary>Training losses every <see cref="TrainingSettings.CurveInterval"/> steps.</summary>
        public IReadOnlyList<CurvePoint> Curve { get; }

        /// <summary>The test figures after the last epoch.</summary>
        public Evaluation FinalTest => Epochs[^1].Test;

        /// <inheritdoc />
        public void Dispose() => Model.Dispose();
    }
}
