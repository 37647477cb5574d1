namespace MoeLayers
{
    /// <summary>How the experts are run on the dispatched rows. All strategies compute the same function.</summary>
    public enum DispatchStrategy
    {
        /// <summary>Pick <see cref="Grouped"/> or <see cref="Padded"/> per call from the routing's shape, the rows' device and dtype.</summary>
        Auto,

        /// <summary>Stable sort by expert, then one matrix product per expert on its contiguous block.</summary>
        Grouped,

        /// <summary>Scatter rows into a zero-padded [E, C, d] buffer and run all experts as one batched product.</summary>
        Padded,

        /// <summary>The plain per-expert loop with index_add (slow; the reference implementation for tests).</summary>
        Reference,
    }
}
