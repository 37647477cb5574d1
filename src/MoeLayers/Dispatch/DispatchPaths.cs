using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// The dispatch part of a layer, chosen per forward: the accelerator's fused dispatch where the options and the input
    /// allow it (MoeLayers.Cuda on CUDA tensors), else the portable sorted dispatch (or the reference loop); or, for a layer
    /// built with one, always that dispatcher (expert parallelism).
    /// </summary>
    internal sealed class DispatchPaths
    {
        private readonly CudaDispatchMode _mode;
        private readonly DispatchStrategy _strategy;
        private readonly IExpertDispatcher _portable;
        private readonly IExpertDispatcher? _only;

        /// <summary>Creates the part from the layer's options; <paramref name="only"/> is the dispatcher every forward uses, or null to choose per forward.</summary>
        public DispatchPaths(MoeLayerOptions options, IExpertDispatcher? only)
        {
            // Expert choice gives every token a variable number of experts, and weighting the experts' inputs moves the
            // weights before the experts: only the TorchSharp dispatch handles either (the validator refuses Always with the
            // latter).
            _mode = options.Router == RouterKind.ExpertChoice || options.WeightExpertInputs ? CudaDispatchMode.Never : options.UseCudaDispatch;
            _strategy = options.Dispatch;
            _portable = _strategy == DispatchStrategy.Reference ? new ReferenceDispatcher() : new SortedDispatcher(_strategy);
            _only = only;
        }

        /// <summary>The dispatcher every forward uses, or null when it is chosen per forward.</summary>
        public IExpertDispatcher? Only => _only;

        /// <summary>This forward's path for the flattened input [T, d], E experts and the current mode's k.</summary>
        public DispatchPath Choose(Tensor flat, int numExperts, int topK) =>
            Choose(flat.device, accelerator => accelerator.Unavailable(flat, numExperts, topK), () => DispatchAccelerators.Cuda);

        /// <summary>
        /// The path for an input on <paramref name="device"/>: <paramref name="unavailable"/> asks the accelerator
        /// <paramref name="findCuda"/> finds whether it can take the input (the tests pass a stand-in accelerator).
        /// </summary>
        internal DispatchPath Choose(Device device, Func<IDispatchAccelerator, string?> unavailable, Func<IDispatchAccelerator?> findCuda) =>
            _only is not null
                ? new DispatchPath(_only, null)
                : DispatchAccelerators.Choose(_mode, _strategy, device, unavailable, _portable, findCuda);
    }
}
