using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Moves token rows to their experts and combines the results back in token order.</summary>
    internal interface IExpertDispatcher
    {
        /// <summary>Dispatches x [T, d] according to <paramref name="routed"/>.</summary>
        /// <param name="input">Token rows [T, d].</param>
        /// <param name="routed">The routing decision and the experts to run.</param>
        /// <param name="rules">Capacity, drop policy and token mask.</param>
        DispatchOutput Dispatch(Tensor input, RoutedTokens routed, DispatchRules rules);
    }
}
