using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace MoeLayers.Samples.MoeModel
{
    /// <summary>
    /// The training batches of a token stream: each sequence is L + 1 consecutive tokens (L inputs, each predicting the
    /// next) starting at a uniformly drawn position. The draw depends on the seed, the optimizer step and the micro-batch
    /// only, so any step's batch can be drawn again (a resumed run sees the batches the uninterrupted run would have).
    /// </summary>
    public sealed class TrainingWindows
    {
        private readonly int[] _tokens;

        /// <summary>Wraps <paramref name="tokens"/> for sequences of <paramref name="sequenceLength"/> tokens.</summary>
        /// <param name="tokens">The token ids of the training text.</param>
        /// <param name="sequenceLength">L, at least 2; the stream must hold at least L + 1 tokens.</param>
        /// <param name="seed">The seed of the draws.</param>
        public TrainingWindows(IReadOnlyList<int> tokens, int sequenceLength, int seed)
        {
            ArgumentNullException.ThrowIfNull(tokens);
            if (sequenceLength < 2) throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, "a sequence needs at least 2 tokens.");
            if (tokens.Count < sequenceLength + 1)
                throw new ArgumentException($"the training text has {tokens.Count} tokens; a sequence of {sequenceLength} needs at least {sequenceLength + 1}.", nameof(tokens));
            _tokens = new int[tokens.Count];
            for (var i = 0; i < _tokens.Length; i++) _tokens[i] = tokens[i];
            SequenceLength = sequenceLength;
            Seed = seed;
        }

        /// <summary>L.</summary>
        public int SequenceLength { get; }

        /// <summary>The seed.</summary>
        public int Seed { get; }

        /// <summary>Tokens in the stream.</summary>
        public int Count => _tokens.Length;

        /// <summary>The start positions of step <paramref name="step"/>'s micro-batch <paramref name="micro"/>, each in [0, count − L − 1].</summary>
        /// <param name="step">The optimizer step.</param>
        /// <param name="micro">The micro-batch within the step.</param>
        /// <param name="batchSize">Sequences in the micro-batch.</param>
        public int[] Starts(int step, int micro, int batchSize)
        {
            if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "the step must be ≥ 0.");
            if (micro < 0) throw new ArgumentOutOfRangeException(nameof(micro), micro, "the micro-batch must be ≥ 0.");
            if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "a batch holds at least 1 sequence.");
            // System.Random with a seed gives the same sequence on every .NET version and platform (its legacy algorithm);
            // HashCode would not do for the seed, being salted per process.
            var random = new Random(DrawSeed(Seed, step, micro));
            var starts = new int[batchSize];
            for (var i = 0; i < batchSize; i++) starts[i] = random.Next(0, _tokens.Length - SequenceLength);
            return starts;
        }

        /// <summary>A seed for one draw: SplitMix64's finalizer over (seed, step, micro), so neighbouring steps draw unrelated starts.</summary>
        private static int DrawSeed(int seed, int step, int micro)
        {
            static ulong Mix(ulong z)
            {
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                return z ^ (z >> 31);
            }
            var x = Mix((uint)seed + 0x9E3779B97F4A7C15UL);
            x = Mix(x + (uint)step);
            x = Mix(x + (uint)micro);
            return (int)(x & int.MaxValue);
        }

        /// <summary>Token ids [B, L + 1] (int64) of step <paramref name="step"/>'s micro-batch <paramref name="micro"/>.</summary>
        /// <param name="step">The optimizer step.</param>
        /// <param name="micro">The micro-batch within the step.</param>
        /// <param name="batchSize">Sequences in the micro-batch.</param>
        public Tensor Batch(int step, int micro, int batchSize)
        {
            var starts = Starts(step, micro, batchSize);
            var width = SequenceLength + 1;
            var ids = new long[batchSize * width];
            for (var b = 0; b < batchSize; b++)
                for (var t = 0; t < width; t++) ids[b * width + t] = _tokens[starts[b] + t];
            return tensor(ids, new long[] { batchSize, width });
        }
    }
}
