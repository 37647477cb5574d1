namespace MoeLayers.Samples.TinyShakespeare.Training
{
    /// <summary>
    /// Independent, reproducible seeds derived from the run seed. Each iteration re-seeds its batch sampler and the
    /// torch generator (dropout, router noise) from (seed, iteration), so a resumed run draws exactly what an
    /// uninterrupted run would have drawn.
    /// </summary>
    public static class Seeds
    {
        /// <summary>What a seed is used for.</summary>
        public enum Stream
        {
            /// <summary>Initial weights.</summary>
            Weights = 1,

            /// <summary>Offsets of a training batch.</summary>
            TrainBatch = 2,

            /// <summary>Dropout masks and router noise of a training step.</summary>
            TorchStep = 3,

            /// <summary>Fixed batches of the training-loss estimate.</summary>
            TrainEstimate = 4,

            /// <summary>Fixed batches of the validation-loss estimate.</summary>
            ValidationEstimate = 5,
        }

        /// <summary>A 31-bit seed mixing the run seed, the stream and the iteration (SplitMix64 finalizer).</summary>
        public static int Derive(int seed, Stream stream, long iteration = 0)
        {
            unchecked
            {
                var z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)stream * 0xBF58476D1CE4E5B9UL + (ulong)iteration * 0x94D049BB133111EBUL;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                z ^= z >> 31;
                return (int)(z & 0x7FFFFFFF);
            }
        }
    }
}
