using System;
using System.Globalization;
using MoeLayers.Distributed;
using MoeLayers.Samples.TinyShakespeare.Model;

namespace MoeLayers.Samples.TinyShakespeare.Parallel
{
    /// <summary>
    /// What the train command needs to know about an mpirun launch before it starts one: how many ranks mpirun
    /// started, the communicator to build, and which model options cannot be sharded (checked on every rank before the
    /// first collective, with the same verdict everywhere, so the ranks fail together instead of waiting for each other).
    /// </summary>
    public static class ExpertParallelLaunch
    {
        /// <summary>The environment variable Open MPI's launcher sets to the number of ranks.</summary>
        public const string WorldSizeVariable = "OMPI_COMM_WORLD_SIZE";

        /// <summary>Ranks of the mpirun job this process belongs to, from <see cref="WorldSizeVariable"/>; 1 without mpirun.</summary>
        /// <param name="value">The variable's value (null when unset).</param>
        public static int LaunchedRanks(string? value) =>
            int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ranks) && ranks > 0 ? ranks : 1;

        /// <summary>Throws when mpirun started several ranks but the run was not asked to be expert-parallel.</summary>
        /// <param name="launchedRanks">Ranks mpirun started.</param>
        /// <param name="expertParallel">Whether --expert-parallel was given.</param>
        public static void ThrowIfReplicatedByMistake(int launchedRanks, bool expertParallel)
        {
            if (launchedRanks > 1 && !expertParallel)
                throw new ArgumentException(
                    $"mpirun started {launchedRanks} ranks but --expert-parallel was not given: every rank would train the whole model alone and write the same --out. " +
                    "Pass --expert-parallel to shard the experts over the ranks, or run without mpirun.");
        }

        /// <summary>An <see cref="MpiCommunicator"/> under mpirun; a <see cref="SingleProcessCommunicator"/> (a world of one) otherwise.</summary>
        public static ICommunicator CreateCommunicator() =>
            MpiCommunicator.IsLaunchedByMpi ? new MpiCommunicator() : new SingleProcessCommunicator();

        /// <summary>
        /// Throws an <see cref="ArgumentException"/> naming the command-line option when the model or batch cannot be
        /// trained expert-parallel over <paramref name="share"/>'s ranks: routers that draw noise per rank (noisy top-k,
        /// the presets' default) or that the expert-parallel layer does not implement (expert choice, AoE), E or B not
        /// divisible by W.
        /// </summary>
        /// <param name="config">The model to train.</param>
        /// <param name="batchSize">Blocks per global batch.</param>
        /// <param name="share">This rank of the run.</param>
        public static void ThrowIfUnsupported(ModelConfig config, int batchSize, RankShare share)
        {
            ArgumentNullException.ThrowIfNull(config);
            ArgumentNullException.ThrowIfNull(share);
            var router = RouterNames.Display(config.Router);
            switch (config.Router)
            {
                case RouterKind.NoisyTopK:
                    throw new ArgumentException(
                        $"--expert-parallel cannot shard --router {router} (the presets' default): its noise would be drawn on every rank separately, " +
                        "unlike one process. Pass --router top-k (or switch, deepseek, qwen).", nameof(config));
                case RouterKind.ExpertChoice or RouterKind.AutonomyOfExperts:
                    throw new ArgumentException(
                        $"--expert-parallel does not support --router {router} (the expert-parallel layer implements the top-k and switch routers). " +
                        "Pass --router top-k (or switch, deepseek, qwen).", nameof(config));
            }
            if (config.Experts % share.WorldSize != 0)
                throw new ArgumentException(
                    $"--experts {config.Experts} does not divide by the {share.WorldSize} ranks: every rank owns E/W experts, so choose a multiple of {share.WorldSize}.",
                    nameof(config));
            share.ThrowIfIndivisible(batchSize);
        }
    }
}
