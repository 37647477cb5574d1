using MoeLayers.Experts;
using MoeLayers.Routing;
using static TorchSharp.torch;

namespace MoeLayers.Dispatch
{
    /// <summary>Moves token rows to their experts and combines the results back in token order.</summary>
    internal interface IExpertDispatcher
    {
        /// <summary>Dispatches x [T, d] according to <paramref name="routing"/>.</summary>
        /// <param name="input">Token rows [T, d].</param>
        /// <param name="routing">Router decision for the T tokens.</param>
        /// <param name="experts">The experts.</param>
        /// <param name="capacity">Capacity per expert, or null for dropless.</param>
        /// <param name="dropPolicy">Which pairs an overflowing expert keeps.</param>
        DispatchOutput Dispatch(Tensor input, RoutingResult routing, IExpertBlocks experts, long? capacity, DropPolicy dropPolicy);
    }
}
