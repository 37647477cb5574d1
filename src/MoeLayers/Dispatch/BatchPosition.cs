namespace MoeLayers
{
    /// <summary>
    /// Where one rank's batch stands in a batch that spans ranks (taken in rank order, as one process would see the ranks'
    /// tokens concatenated): the (expert, choice) pair counts [E, k] of the ranks before it and of all ranks together.
    /// Capacity counts the earlier ranks' pairs first (<see cref="Capacity.KeptPerExpert"/>).
    /// </summary>
    internal sealed record BatchPosition(long[,] Before, long[,] Total);
}
