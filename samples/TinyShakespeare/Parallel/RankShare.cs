using System;
using MoeLayers.Distributed;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Parallel
{
    /// <summary>
    /// This process's part of an expert-parallel run: which rows of every global batch it trains and evaluates on (rank
    /// r of W takes rows [r·B/W, (r+1)·B/W) of the batch every rank draws from the same seed), how its means become the
    /// global batch's, and whether it writes the run's outputs. <see cref="Whole"/> is the one-process run.
    /// </summary>
    public sealed class RankShare
    {
        private RankShare(ICommunicator? communicator)
        {
            Communicator = communicator;
            Rank = communicator?.Rank ?? 0;
            WorldSize = communicator?.WorldSize ?? 1;
        }

        /// <summary>One process, no communicator: the whole batch, plain <c>MoeLayer</c>s.</summary>
        public static RankShare Whole { get; } = new(null);

        /// <summary>Rank <c>communicator.Rank</c> of an expert-parallel run over <paramref name="communicator"/>.</summary>
        /// <param name="communicator">The ranks the experts are sharded over (a world of one is allowed).</param>
        public static RankShare Of(ICommunicator communicator)
        {
            ArgumentNullException.ThrowIfNull(communicator);
            return new RankShare(communicator);
        }

        /// <summary>The communicator of an expert-parallel run, or null for one process.</summary>
        public ICommunicator? Communicator { get; }

        /// <summary>This process's rank r.</summary>
        public int Rank { get; }

        /// <summary>Ranks W (1 for one process).</summary>
        public int WorldSize { get; }

        /// <summary>Whether this process prints and writes the run's outputs (rank 0).</summary>
        public bool IsPrimary => Rank == 0;

        /// <summary>Whether the experts are sharded over a communicator (also in a world of one).</summary>
        public bool IsExpertParallel => Communicator is not null;

        /// <summary>Throws when a batch of <paramref name="batchSize"/> blocks does not split evenly over the ranks.</summary>
        /// <param name="batchSize">Blocks per global batch B.</param>
        /// <exception cref="ArgumentException">B is not a multiple of W.</exception>
        public void ThrowIfIndivisible(int batchSize)
        {
            if (batchSize % WorldSize != 0)
                throw new ArgumentException(
                    $"--batch-size {batchSize} does not divide by the {WorldSize} ranks: every rank takes B/W blocks of the global batch, so choose a multiple of {WorldSize}.",
                    nameof(batchSize));
        }

        /// <summary>This rank's rows of a global batch (inputs, targets), as <see cref="Take(Tensor, Tensor)"/>.</summary>
        /// <param name="batch">The global batch's inputs and targets [B, T].</param>
        public (Tensor Inputs, Tensor Targets) Take((Tensor Inputs, Tensor Targets) batch) => Take(batch.Inputs, batch.Targets);

        /// <summary>This rank's rows [r·B/W, (r+1)·B/W) of a global batch's inputs and targets [B, T].</summary>
        /// <param name="inputs">The global batch's inputs [B, T].</param>
        /// <param name="targets">The global batch's targets [B, T].</param>
        public (Tensor Inputs, Tensor Targets) Take(Tensor inputs, Tensor targets)
        {
            ArgumentNullException.ThrowIfNull(inputs);
            ArgumentNullException.ThrowIfNull(targets);
            if (WorldSize == 1) return (inputs, targets);
            var batch = (int)inputs.shape[0];
            ThrowIfIndivisible(batch);
            var rows = batch / WorldSize;
            return (inputs.narrow(0, (long)Rank * rows, rows), targets.narrow(0, (long)Rank * rows, rows));
        }

        /// <summary>
        /// Collective in an expert-parallel run: the mean over ranks of a per-rank value. With equal shares, the mean of
        /// the ranks' mean losses is the global batch's mean loss. One process: the value itself.
        /// </summary>
        /// <param name="local">This rank's value.</param>
        public double Mean(double local)
        {
            if (Communicator is null) return local;
            using var value = tensor(new[] { local }, ScalarType.Float64);
            using var sum = Communicator.AllReduce(value, ReduceOp.Sum);
            return sum.item<double>() / WorldSize;
        }

        /// <summary>Collective in an expert-parallel run: whether <paramref name="local"/> holds on any rank.</summary>
        /// <param name="local">This rank's verdict.</param>
        public bool AnyRank(bool local) => Communicator is null ? local : Mean(local ? 1 : 0) > 0;

        /// <summary>
        /// The index of this rank's dropout stream for a step: step·W + r (the step itself for one process), so every rank
        /// draws its own masks (the same seed on every rank would give every rank's rows the same masks).
        /// </summary>
        /// <param name="iteration">The training step.</param>
        public long DropoutStream(int iteration) => (long)iteration * WorldSize + Rank;
    }
}
