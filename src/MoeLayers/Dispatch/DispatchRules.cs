namespace MoeLayers
{
    /// <summary>The limits one forward's dispatch works under.</summary>
    /// <param name="Capacity">Rows per expert, or null for dropless.</param>
    /// <param name="DropPolicy">Which pairs an overflowing expert keeps.</param>
    /// <param name="Mask">Which tokens are real, or null when all are.</param>
    internal sealed record DispatchRules(long? Capacity, DropPolicy DropPolicy, TokenMask? Mask);
}
