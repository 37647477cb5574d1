using MoeLayers.Routing;
using static TorchSharp.torch;

namespace MoeLayers.Dispatch
{
    /// <summary>
    /// A faster implementation of routing selection and dispatch for some devices, supplied by another package
    /// (MoeLayers.Cuda registers one through <see cref="DispatchAccelerators.RegisterCuda"/>). It computes the same
    /// function as <see cref="SortedDispatcher"/> and the routers' own selection.
    /// </summary>
    internal interface IDispatchAccelerator
    {
        /// <summary>The providing package, named in messages.</summary>
        string Name { get; }

        /// <summary>The dispatcher; stateless, shared by every layer.</summary>
        IExpertDispatcher Dispatcher { get; }

        /// <summary>Null when tensors on <paramref name="device"/> can be handled; otherwise what is missing, in words.</summary>
        /// <param name="device">The device of the layer's input.</param>
        string? Unavailable(Device device);

        /// <summary>
        /// Softmax and top-k selection on router logits [T, E] in one kernel, with gradient to the logits; null when
        /// this case is not handled (the router then selects with TorchSharp ops).
        /// </summary>
        /// <param name="logits">float32 router logits [T, E] on a device this accelerator handles.</param>
        /// <param name="topK">Experts per token k.</param>
        /// <param name="order">Softmax/top-k order.</param>
        /// <param name="renormalize">Rescale the k weights to sum to 1 (softmax-then-top-k only).</param>
        RoutingResult? TryRouteTopK(Tensor logits, int topK, TopKOrder order, bool renormalize);
    }
}
