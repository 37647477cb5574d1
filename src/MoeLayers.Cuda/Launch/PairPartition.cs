namespace MoeLayers.Cuda
{
    /// <summary>
    /// How the routing and permutation kernels split the T·k (token, slot) pairs: block b owns tokens
    /// [b·TokensPerBlock, (b+1)·TokensPerBlock) and so pairs [b·PairsPerBlock, (b+1)·PairsPerBlock). The routing
    /// kernel's per-block expert counts can feed the permutation only when both used the same partition.
    /// </summary>
    /// <param name="Tokens">T.</param>
    /// <param name="TopK">k.</param>
    /// <param name="TokensPerBlock">Tokens per block (the block size, one thread per token in the routing kernel).</param>
    internal readonly record struct PairPartition(long Tokens, int TopK, int TokensPerBlock)
    {
        /// <summary>Pairs each block owns.</summary>
        public int PairsPerBlock => TokensPerBlock * TopK;

        /// <summary>Number of blocks.</summary>
        public int Blocks => (int)((Tokens + TokensPerBlock - 1) / TokensPerBlock);

        /// <summary>Total pairs T·k.</summary>
        public long Pairs => Tokens * TopK;

        /// <summary>The launch: one block per token range, one thread per token.</summary>
        public LaunchDims Dims => new(Blocks, TokensPerBlock);
    }
}
