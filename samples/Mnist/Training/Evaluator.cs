using System;
using MoeLayers.Samples.Mnist.Model;
using static TorchSharp.torch;

namespace MoeLayers.Samples.Mnist.Training
{
    /// <summary>Runs a model over a split in large batches, without gradients, and counts what it did.</summary>
    public static class Evaluator
    {
        /// <summary>Images per forward pass: large enough that per-op overhead vanishes, small enough for little memory.</summary>
        public const int DefaultBatchSize = 5000;

        /// <summary>Evaluates <paramref name="model"/> on <paramref name="data"/>; restores the model's training mode after.</summary>
        /// <param name="model">The classifier.</param>
        /// <param name="data">Images and labels.</param>
        /// <param name="batchSize">Images per forward pass, at least 1.</param>
        public static Evaluation Evaluate(MnistMoeClassifier model, MnistTensors data, int batchSize = DefaultBatchSize)
        {
            ArgumentNullException.ThrowIfNull(model);
            ArgumentNullException.ThrowIfNull(data);
            ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
            var classes = MnistMoeSettings.ClassCount;
            var wasTraining = model.training;
            model.eval();
            try
            {
                using var noGrad = no_grad();
                var routing = new ExpertAssignmentCounter(model.Settings.NumExperts, classes);
                var confusion = new long[classes, classes];
                double lossSum = 0;
                for (long start = 0; start < data.Count; start += batchSize)
                {
                    using var scope = NewDisposeScope();
                    var length = Math.Min(batchSize, data.Count - start);
                    var images = data.Images.narrow(0, start, length);
                    var labels = data.Labels.narrow(0, start, length);
                    var (logits, routed) = model.ForwardWithRouting(images);
                    lossSum += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<float>();
                    routing.Add(routed.ExpertIndices, labels);
                    CountPairs(confusion, labels, logits.argmax(1L));
                }
                return new Evaluation(data.Count == 0 ? 0 : lossSum / data.Count, confusion, routing.ToArray());
            }
            finally
            {
                model.train(wasTraining);
            }
        }

        private static void CountPairs(long[,] confusion, Tensor labels, Tensor predictions)
        {
            var truth = labels.data<long>().ToArray();
            var predicted = predictions.data<long>().ToArray();
            for (var i = 0; i < truth.Length; i++) confusion[truth[i], predicted[i]]++;
        }
    }
}
