using System;
using System.Collections.Generic;
using System.Diagnostics;
using MoeLayers.Samples.Mnist.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>
    /// Trains the study's model with Adam on cross-entropy ("network loss") plus lc × CV² ("gate loss"), and evaluates
    /// it on the test split after every epoch. Reproducible: the seed fixes torch's generator (initial weights, router
    /// noise) and the shuffling; libtorch's CPU kernels are deterministic for a fixed thread count.
    /// </summary>
    public sealed class Trainer
    {
        private readonly MnistMoeSettings _model;
        private readonly TrainingSettings _training;

        /// <summary>Checks both settings; throws <see cref="ArgumentException"/> naming a bad field.</summary>
        /// <param name="model">ne, k, lc and the router.</param>
        /// <param name="training">Optimizer, batches, epochs, seed.</param>
        public Trainer(MnistMoeSettings model, TrainingSettings training)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(training);
            model.Validate();
            training.Validate();
            _model = model;
            _training = training;
        }

        /// <summary>Called every few steps with the running network loss (for progress bars).</summary>
        public Action<TrainingProgress>? Progress { get; init; }

        /// <summary>Called after each epoch's evaluation.</summary>
        public Action<EpochRecord>? EpochFinished { get; init; }

        /// <summary>Steps between two <see cref="Progress"/> calls.</summary>
        public int ProgressInterval { get; init; } = 10;

        /// <summary>Trains a fresh model on <paramref name="train"/> and evaluates it on <paramref name="test"/>.</summary>
        /// <param name="train">Training split; only its first <see cref="TrainingSettings.TrainLimit"/> images when set.</param>
        /// <param name="test">Test split.</param>
        /// <returns>The run; the caller disposes it (it owns the model).</returns>
        public TrainingRun Run(MnistTensors train, MnistTensors test)
        {
            ArgumentNullException.ThrowIfNull(train);
            ArgumentNullException.ThrowIfNull(test);
            if (_training.TrainLimit is { } limit && limit > train.Count)
                throw new ArgumentException($"TrainLimit {limit} exceeds the {train.Count} training images.", nameof(train));
            var count = _training.TrainLimit ?? (int)train.Count;
            var batch = _training.BatchSize;
            var stepsPerEpoch = (count + batch - 1) / batch;

            torch.manual_seed(_training.Seed);
            var shuffler = new Random(_training.Seed);
            var model = new MnistMoeClassifier(_model);
            try
            {
                model.train();
                using var optimizer = optim.Adam(model.parameters(), _training.LearningRate);
                var epochs = new List<EpochRecord>();
                var curve = new CurveRecorder(_training.CurveInterval, stepsPerEpoch);
                for (var epoch = 1; epoch <= _training.Epochs; epoch++)
                {
                    var clock = Stopwatch.StartNew();
                    using var order = torch.tensor(Permutation(shuffler, count));
                    double networkSum = 0, gateSum = 0, progressSum = 0;
                    for (var step = 0; step < stepsPerEpoch; step++)
                    {
                        using var scope = NewDisposeScope();
                        var start = (long)step * batch;
                        var rows = order.narrow(0, start, Math.Min(batch, count - start));
                        var images = train.Images.index_select(0, rows);
                        var labels = train.Labels.index_select(0, rows);

                        var logits = model.call(images);
                        var networkLoss = nn.functional.cross_entropy(logits, labels);
                        var loss = networkLoss + MoeAuxiliaryLoss.Collect(model);
                        optimizer.zero_grad();
                        loss.backward();
                        optimizer.step();

                        var network = (double)networkLoss.item<float>();
                        var gate = model.Layer.Statistics!.LoadBalancingLoss;
                        networkSum += network;
                        gateSum += gate;
                        progressSum += network;
                        curve.Add(epoch, step, network, gate);
                        if ((step + 1) % ProgressInterval == 0 || step + 1 == stepsPerEpoch)
                        {
                            var stepsSinceReport = (step % ProgressInterval) + 1;
                            Progress?.Invoke(new TrainingProgress(epoch, step + 1, stepsPerEpoch, progressSum / stepsSinceReport));
                            progressSum = 0;
                        }
                    }
                    var seconds = clock.Elapsed.TotalSeconds;
                    var record = new EpochRecord(epoch, networkSum / stepsPerEpoch, gateSum / stepsPerEpoch,
                        Evaluator.Evaluate(model, test), seconds);
                    epochs.Add(record);
                    EpochFinished?.Invoke(record);
                }
                return new TrainingRun(model, _training, epochs, curve.Points);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }

        /// <summary>A uniformly random order of 0..n−1 (Fisher–Yates) from the seeded generator.</summary>
        private static long[] Permutation(Random random, int n)
        {
            var order = new long[n];
            for (var i = 0; i < n; i++) order[i] = i;
            for (var i = n - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
            return order;
        }

        /// <summary>Averages the per-step losses over fixed windows; a window never spans two epochs.</summary>
        private sealed class CurveRecorder
        {
            private readonly int _interval;
            private readonly int _stepsPerEpoch;
            private double _network, _gate;
            private int _steps;

            public CurveRecorder(int interval, int stepsPerEpoch)
            {
                _interval = interval;
                _stepsPerEpoch = stepsPerEpoch;
            }

            public List<CurvePoint> Points { get; } = new();

            public void Add(int epoch, int step, double network, double gate)
            {
                _network += network;
                _gate += gate;
                _steps++;
                if (_steps < _interval && step + 1 < _stepsPerEpoch) return;
                Points.Add(new CurvePoint(epoch - 1 + (double)(step + 1) / _stepsPerEpoch, _network / _steps, _gate / _steps));
                _network = _gate = 0;
                _steps = 0;
            }
        }
    }
}
