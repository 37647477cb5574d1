namespace MoeLayers
{
    /// <summary>The limits one forward's dispatch works under.</summary>
    /// <param name="Capacity">Rows per expert for this process's real tokens, or null for dropless.</param>
    /// <param name="DropPolicy">Which pairs an overflowing expert keeps.</param>
    /// <param name="Mask">Which tokens are real, or null when all are.</param>
    internal sealed record DispatchRules(long? Capacity, DropPolicy DropPolicy, TokenMask? Mask)
    {
        /// <summary>
        /// The capacity factor <see cref="Capacity"/> came from (null: dropless, or a router-applied capacity), for a
        /// dispatcher whose batch spans ranks and so must compute C from every rank's tokens.
        /// </summary>
        public double? CapacityFactor { get; init; }

        /// <summary>The lower bound <see cref="Capacity"/> was computed with.</summary>
        public int MinCapacity { get; init; } = 1;
    }
}
