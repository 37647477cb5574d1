using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A faster implementation of routing selection and dispatch for some devices, supplied by another package
    /// (MoeLayers.Cuda registers one through <see cref="DispatchAccelerators.RegisterCuda"/>). It computes the same
    /// function as <see cref="SortedDispatcher"/> and, as an <see cref="IRoutingAccelerator"/>, the routers' own selection. Stateless: shared by every layer.
    /// </summary>
    internal interface IDispatchAccelerator : IRoutingAccelerator
    {
        /// <summary>The providing package, named in messages.</summary>
        string Name { get; }

        /// <summary>The dispatcher running the experts with <paramref name="strategy"/>; stateless, shared by every layer.</summary>
        /// <param name="strategy">Auto, Grouped or Padded (Reference always stays the core's loop).</param>
        IExpertDispatcher Dispatcher(DispatchStrategy strategy);

        /// <summary>
        /// Null when this accelerator can dispatch <paramref name="input"/> (device, driver, dtype, sizes); otherwise what
        /// is missing, in words.
        /// </summary>
        /// <param name="input">The layer's flattened input [T, d].</param>
        /// <param name="numExperts">Number of experts E.</param>
        /// <param name="topK">Experts per token k.</param>
        string? Unavailable(Tensor input, int numExperts, int topK);
    }

    /// <summary>How one forward is dispatched: the dispatcher to use and, when it is an accelerator's, that accelerator.</summary>
    /// <param name="Dispatcher">The dispatcher.</param>
    /// <param name="Accelerator">The accelerator whose dispatcher it is, or null for the TorchSharp dispatch.</param>
    internal sealed record DispatchPath(IExpertDispatcher Dispatcher, IDispatchAccelerator? Accelerator);
}
