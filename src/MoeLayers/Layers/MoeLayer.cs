using System;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>
    /// A routed Mixture-of-Experts feed-forward layer: a learned router (top-k in the Mixtral/Qwen/DeepSeek variants, noisy
    /// top-k, Switch or expert choice) picks experts per token, a sort-based dispatcher runs each expert on its tokens,
    /// the outputs are combined with the router weights, and optional shared experts add a dense FFN's output for every
    /// token. Shapes [..., d] → [..., out]. The router's parameters, buffers and math stay float32 under any
    /// <c>.to(dtype)</c>; the experts take the model's dtype. State dict names: router.weight (router.noise_weight,
    /// router.correction_bias), experts.w_in, experts.w_gate, experts.w_out, experts.b_in, experts.b_out,
    /// shared_experts.w_in, .w_gate, .w_out, .b_in, .b_out, .gate.
    /// </summary>
    public sealed class MoeLayer : MoeLayerBase
    {
        [ComponentName(Name = "router")]
        private readonly Router _router;

        [ComponentName(Name = "experts")]
        private readonly ExpertBank _experts;

        [ComponentName(Name = "shared_experts")]
        private readonly SharedExperts? _sharedExperts;

        /// <summary>Creates the layer from validated options; throws <see cref="ArgumentException"/> naming each bad field.</summary>
        /// <param name="options">Layer options.</param>
        /// <param name="name">Module name.</param>
        public MoeLayer(MoeLayerOptions options, string name = "moe")
            : base(name, RequireLearnedRouter(options))
        {
            var o = LayerOptions;
            _router = CreateRouter(o);
            _experts = new ExpertBank(o.NumExperts, o.InputDim, o.HiddenDim, o.EffectiveOutputDim, o.Activation, o.ExpertBias, o.MemoryOptimizedExperts);
            if (o.SharedExperts > 0)
                _sharedExperts = new SharedExperts(o.SharedExperts, o.InputDim, o.EffectiveSharedHiddenDim, o.EffectiveOutputDim, o.Activation,
                    o.ExpertBias, o.SharedExpertGate);
            RegisterComponents();
        }

        /// <summary>The router (tests and benchmarks).</summary>
        internal Router Router => _router;

        /// <summary>The experts (tests and benchmarks).</summary>
        internal ExpertBank Experts => _experts;

        /// <summary>The shared experts (tests), or null.</summary>
        internal SharedExperts? Shared => _sharedExperts;

        private protected override RoutedTokens Route(Tensor flat, DispatchPath path, TokenMask? mask)
        {
            var input32 = flat.to(ScalarType.Float32);
            var logits = _router.Logits(input32);
            ThrowIfNotFinite(flat, logits, "router logits");
            switch (_router)
            {
                case ExpertChoiceRouter expertChoice:
                    return new RoutedTokens(expertChoice.Select(logits, mask), _experts, routerCappedExperts: true);
                case TopKRouter { Rule.IsPlainSoftmax: true } topK
                    when path.Accelerator?.TryRouteTopK(logits, topK.ActiveTopK, topK.Order, topK.Renormalize) is { } fused:
                    return new RoutedTokens(fused.Routing, _experts, fused.DeviceCounts);
                default:
                    return new RoutedTokens(_router.Select(input32, logits), _experts);
            }
        }

        private protected override Tensor? SharedOutput(Tensor flat) => _sharedExperts?.call(flat);

        private protected override TopKRouter? BalancedRouter => _router as TopKRouter;

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
            RouterKind.TopK => new TopKRouter(o.InputDim, o.NumExperts, o.TopK, TopKRule.From(o)),
            RouterKind.ExpertChoice => new ExpertChoiceRouter(o.InputDim, o.NumExperts, o.TopK, o.CapacityFactor ?? 1.0, o.MinCapacity),
            _ => throw new ArgumentOutOfRangeException(nameof(o), o.Router, $"{nameof(MoeLayer)} has no learned router {o.Router}."),
        };
    }
}
