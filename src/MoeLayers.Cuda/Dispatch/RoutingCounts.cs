using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace MoeLayers.Cuda.Dispatch
{
    /// <summary>
    /// Remembers the per-block expert counts the routing kernel produced, keyed by the very indices tensor it returned, so
    /// the dispatcher that receives those indices skips its counting launch. Entries die with the tensor object.
    /// </summary>
    internal static class RoutingCounts
    {
        private static readonly ConditionalWeakTable<Tensor, ExpertCounts> Table = new();

        public static void Remember(Tensor indices, ExpertCounts counts) => Table.AddOrUpdate(indices, counts);

        public static ExpertCounts? Find(Tensor indices) => Table.TryGetValue(indices, out var counts) ? counts : null;
    }
}
