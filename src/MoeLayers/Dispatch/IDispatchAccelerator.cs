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

        /// <summary>The dispatcher running the experts with <paramref name="strategy"/> (Auto, Grouped or Padded); stateless, shared by every layer.</summary>
        IExpertDispatcher Dispatcher(DispatchStrategy strategy);

        /// <summary>
        /// Null when this accelerator can dispatch the flattened input [T, d] to E experts, k each (device, driver, dtype,
        /// sizes); otherwise what is missing, in words.
        /// </summary>
        string? Unavailable(Tensor input, int numExperts, int topK);
    }

    /// <summary>How one forward is dispatched: the dispatcher, and the accelerator whose dispatcher it is (null for the TorchSharp dispatch).</summary>
    internal sealed record DispatchPath(IExpertDispatcher Dispatcher, IDispatchAccelerator? Accelerator);
}
