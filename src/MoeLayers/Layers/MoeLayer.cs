using System;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A routed Mixture-of-Experts feed-forward layer: a learned router (top-k, noisy top-k or Switch) picks k experts
    /// per token, a sort-based dispatcher runs each expert on its tokens, and the outputs are combined with the router
    /// weights. Shapes [..., d] → [..., out]. The router's parameters and math stay float32 under any
    /// <c>.to(dtype)</c>; the experts take the model's dtype. State dict names: router.weight (router.noise_weight),
    /// experts.w_in, experts.w_gate, experts.w_out, experts.b_in, experts.b_out.
    /// </summary>
    public sealed class MoeLayer : MoeLayerBase
    {
        [ComponentName(Name = "router")]
        private readonly Router _router;

        [ComponentName(Name = "experts")]
        private readonly ExpertBank _experts;

        /// <summary>Creates the layer from validated options; throws <see cref="ArgumentException"/> naming each bad field.</summary>
        /// <param name="options">Layer options.</param>
        /// <param name="name">Module name.</param>
        public MoeLayer(MoeLayerOptions options, string name = "moe")
            : base(name, RequireLearnedRouter(options))
        {
            var o = LayerOptions;
            _router = CreateRouter(o);
            _experts = new ExpertBank(o.NumExperts, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.Activation, o.ExpertBias);
            RegisterComponents();
        }

        /// <summary>The router (tests and benchmarks).</summary>
        internal Router Router => _router;

        /// <summary>The experts (tests and benchmarks).</summary>
        internal ExpertBank Experts => _experts;

        private protected override RoutedTokens Route(Tensor flat, DispatchPath path)
        {
            var input32 = flat.to(ScalarType.Float32);
            var logits = _router.Logits(input32);
            ThrowIfNotFinite(flat, logits, "router logits");
            if (_router is TopKRouter topK && path.Accelerator?.TryRouteTopK(logits, TopK, topK.Order, topK.Renormalize) is { } fused)
                return new RoutedTokens(fused.Routing, _experts, fused.DeviceCounts);
            return new RoutedTokens(_router.Select(input32, logits), _experts);
        }

        private protected override (Device Device, ScalarType DType) ParameterPlacement() =>
            (_experts.InputWeight.device, _experts.InputWeight.dtype);

        private static MoeLayerOptions RequireLearnedRouter(MoeLayerOptions options)
        {
            if (options?.Router == RouterKind.AutonomyOfExperts)
                throw new ArgumentException(
                    $"{nameof(MoeLayer)} uses a learned router; build {nameof(RouterKind.AutonomyOfExperts)} layers with {nameof(Moe)}.{nameof(Moe.Create)} or new {nameof(AutonomyOfExpertsLayer)}(options).",
                    nameof(options));
            return options!;
        }

        private static Router CreateRouter(MoeLayerOptions o) => o.Router switch
        {
            RouterKind.NoisyTopK => new NoisyTopKRouter(o.InputDim, o.NumExperts, o.TopK, o.NoisyZeroInit),
            RouterKind.Switch => new SwitchRouter(o.InputDim, o.NumExperts, o.SwitchJitter),
            RouterKind.TopK => new TopKRouter(o.InputDim, o.NumExperts, o.TopK, o.TopKOrder, o.RenormalizeWeights),
            _ => throw new ArgumentOutOfRangeException(nameof(o), o.Router, $"{nameof(MoeLayer)} has no learned router {o.Router}."),
        };
    }
}
