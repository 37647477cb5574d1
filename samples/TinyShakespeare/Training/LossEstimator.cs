using System;
using MoeLayers.Samples.TinyShakespeare.Data;
using MoeLayers.Samples.TinyShakespeare.Model;
using MoeLayers.Samples.TinyShakespeare.Parallel;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>Mean next-character cross-entropy of a model over random blocks, in evaluation mode.</summary>
    public static class LossEstimator
    {
        /// <summary>
        /// Averages the loss of <paramref name="batches"/> batches drawn with <paramref name="seed"/> (the same seed gives
        /// the same blocks, so estimates taken at different times, or of different models, see the same text).
        /// Runs without dropout, router noise or gradients, then restores the model's training mode. In an expert-parallel
        /// run (collective) every rank draws the same batches, evaluates its own rows and the ranks' means are averaged.
        /// </summary>
        /// <returns>Nats per character.</returns>
        public static double Estimate(CharTransformer model, Tensor tokens, int batchSize, int batches, int seed, RankShare? share = null)
        {
            ArgumentNullException.ThrowIfNull(model);
            share ??= RankShare.Whole;
            if (batches < 1) throw new ArgumentOutOfRangeException(nameof(batches), batches, "batches must be at least 1.");
            var wasTraining = model.training;
            model.eval();
            try
            {
                using var noGrad = no_grad();
                var random = new Random(seed);
                var total = 0.0;
                for (var i = 0; i < batches; i++)
                {
                    using var scope = NewDisposeScope();
                    var (inputs, targets) = share.Take(BatchSampler.Sample(tokens, model.Config.BlockSize, batchSize, random));
                    total += CrossEntropy(model.call(inputs), targets).item<float>();
                }
                return share.Mean(total / batches);
            }
            finally
            {
                model.train(wasTraining);
            }
        }

        /// <summary>Mean cross-entropy of logits [B, T, V] against targets [B, T].</summary>
        public static Tensor CrossEntropy(Tensor logits, Tensor targets) =>
            nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));
    }
}
