namespace MoeLayers
{
    /// <summary>
    /// The limits one forward's dispatch works under: capacity for this process's real tokens (null: dropless), drop
    /// policy and token mask; the capacity factor and minimum it came from (null factor: dropless, or applied by the
    /// router), for a dispatcher whose batch spans ranks and so computes C from every rank's tokens; and where the routing
    /// weights apply (the experts' outputs, or their inputs).
    /// </summary>
    internal sealed record DispatchRules(long? Capacity, DropPolicy DropPolicy, TokenMask? Mask)
    {
        /// <summary>The capacity factor <see cref="Capacity"/> came from.</summary>
        public double? CapacityFactor { get; init; }

        /// <summary>The lower bound <see cref="Capacity"/> was computed with.</summary>
        public int MinCapacity { get; init; } = 1;

        /// <summary>
        /// Whether each pair's routing weight scales the expert's input rows instead of its output, the combine then summing
        /// the k outputs with weight 1 (<see cref="MoeLayerOptions.WeightExpertInputs"/>, Llama 4).
        /// </summary>
        public bool WeightExpertInputs { get; init; }
    }
}
