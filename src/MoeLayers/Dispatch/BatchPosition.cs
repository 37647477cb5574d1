namespace MoeLayers
{
    /// <summary>
    /// Where one rank's batch stands in a batch that spans ranks (taken in rank order, as one process would see the ranks'
    /// tokens concatenated): the (expert, choice) pair counts of the ranks before it and of all ranks together. Capacity
    /// counts the earlier ranks' pairs first (<see cref="Capacity.KeptPerExpert"/>).
    /// </summary>
    /// <param name="Before">Pairs per (expert, choice) of the ranks before this one [E, k].</param>
    /// <param name="Total">Pairs per (expert, choice) of every rank [E, k].</param>
    internal sealed record BatchPosition(long[,] Before, long[,] Total);
}
