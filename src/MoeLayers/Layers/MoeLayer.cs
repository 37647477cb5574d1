using MoeLayers.Configuration;
using MoeLayers.Dispatch;
using MoeLayers.Experts;
using MoeLayers.Routing;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers.Layers
{
    /// <summary>
    /// A routed Mixture-of-Experts feed-forward layer: a learned router (top-k, noisy top-k or Switch) picks k experts
    /// per token, a sort-based dispatcher runs each expert on its tokens, and the outputs are combined with the router
    /// weights. Shapes [..., d] → [..., out]. State dict names: router.weight (router.noise_weight), experts.w_in,
    /// experts.w_gate, experts.w_out, experts.b_in, experts.b_out.
    /// </summary>
    public sealed class MoeLayer : MoeLayerBase
    {
        [ComponentName(Name = "router")]
        private readonly Router _router;

        [ComponentName(Name = "experts")]
        private readonly ExpertBank _experts;


        /// <summary>Creates the layer from validated options; throws <see cref="System.ArgumentException"/> naming each bad field.</summary>
        /// <param name="options">Layer options.</param>
        /// <param name="name">Module name.</param>
        public MoeLayer(MoeLayerOptions options, string name = "moe")
            : base(name, RequireLearnedRouter(options))
        {
            _router = CreateRouter(Options);
            _experts = new ExpertBank(Options.NumExperts, Options.InputDim, Options.HiddenDim, Options.EffectiveOutputDim,
                Options.Activation, Options.ExpertBias);
            RegisterComponents();
        }

        /// <summary>The router.</summary>
        public Router Router => _router;

        /// <summary>The experts.</summary>
        public ExpertBank Experts => _experts;

        private protected override RoutingResult Route(Tensor flat) => _router.call(flat);

        private protected override DispatchOutput Dispatch(Tensor flat, RoutingResult routing, long? capacity) =>
            RunDispatch(flat, routing, _experts, capacity);

        private protected override (Device Device, ScalarType DType) ParameterPlacement() =>
            (_experts.InputWeight.device, _experts.InputWeight.dtype);

        private static MoeLayerOptions RequireLearnedRouter(MoeLayerOptions options)
        {
            if (options?.Router == RouterKind.AutonomyOfExperts)
                throw new System.ArgumentException(
                    $"{nameof(MoeLayer)} uses a learned router; build {nameof(RouterKind.AutonomyOfExperts)} layers with {nameof(Moe)}.{nameof(Moe.Create)} or new {nameof(AutonomyOfExpertsLayer)}(options).",
                    nameof(options));
            return options!;
        }

        private static Router CreateRouter(MoeLayerOptions o) => o.Router switch
        {
            RouterKind.NoisyTopK => new NoisyTopKRouter(o.InputDim, o.NumExperts, o.TopK, o.NoisyZeroInit),
            RouterKind.Switch => new SwitchRouter(o.InputDim, o.NumExperts, o.SwitchJitter),
            _ => new TopKRouter(o.InputDim, o.NumExperts, o.TopK, o.TopKOrder, o.RenormalizeWeights) { CudaRouting = o.UseCudaDispatch },
        };
    }
}
