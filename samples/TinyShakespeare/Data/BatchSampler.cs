using System;
using static TorchSharp.torch;

namespace MoeLayers.Samples.TinyShakespeare.Data
{
    /// <summary>Random contiguous blocks of a token stream: inputs and the same blocks shifted by one as targets.</summary>
    public static class BatchSampler
    {
        /// <summary>
        /// Draws <paramref name="batchSize"/> start offsets uniformly from [0, N − blockSize) and returns
        /// x[b, t] = tokens[o_b + t] and y[b, t] = tokens[o_b + t + 1], both int64 [batchSize, blockSize].
        /// </summary>
        /// <param name="tokens">A token stream int64 [N] with N &gt; blockSize.</param>
        /// <param name="blockSize">Block length T, at least 1.</param>
        /// <param name="batchSize">Blocks B, at least 1.</param>
        /// <param name="random">Source of the offsets (seed it to get the same batches again).</param>
        public static (Tensor Inputs, Tensor Targets) Sample(Tensor tokens, int blockSize, int batchSize, Random random)
        {
            ArgumentNullException.ThrowIfNull(tokens);
            ArgumentNullException.ThrowIfNull(random);
            if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "blockSize must be at least 1.");
            if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
            if (tokens.dim() != 1 || tokens.shape[0] <= blockSize)
                throw new ArgumentException($"tokens must be a 1-D stream longer than blockSize ({blockSize}); got shape [{string.Join(", ", tokens.shape)}].", nameof(tokens));

            var starts = new long[batchSize];
            for (var b = 0; b < batchSize; b++) starts[b] = random.NextInt64(tokens.shape[0] - blockSize);
            using var offsets = tensor(starts, int64).unsqueeze(1);
            using var positions = arange(blockSize, int64).unsqueeze(0);
            using var inputIndex = offsets + positions;
            using var targetIndex = inputIndex + 1;
            return (tokens.index_select(0, inputIndex.view(-1)).view(batchSize, blockSize),
                tokens.index_select(0, targetIndex.view(-1)).view(batchSize, blockSize));
        }
    }
}
