using System;
using static TorchSharp.torch;

namespace MoeLayers
{
    /// <summary>Builds the routing part an MoE layer's options name: one case per <see cref="RouterKind"/>.</summary>
    internal static class Routings
    {
        /// <summary>
        /// The routing part for validated <paramref name="options"/>; <paramref name="experts"/> creates the layer's experts
        /// part, which only Autonomy-of-Experts needs here (it routes with their projections): a learned router is created
        /// before them.
        /// </summary>
        public static IRouting Create(MoeLayerOptions options, Lazy<nn.Module> experts)
        {
            var o = options;
            return o.Router switch
            {
                RouterKind.TopK => new TopKRouter(o.InputDim, o.NumExperts, TopKRule.From(o), o.RouterBias),
                RouterKind.NoisyTopK => new NoisyTopKRouter(o.InputDim, o.NumExperts, o.NoisyZeroInit),
                RouterKind.Switch => new SwitchRouter(o.InputDim, o.NumExperts, o.SwitchJitter),
                RouterKind.ExpertChoice => new ExpertChoiceRouter(o.InputDim, o.NumExperts, o.CapacityFactor ?? 1.0, o.MinCapacity),
                RouterKind.AutonomyOfExperts => new AutonomyOfExpertsRouting((LowRankExpertBank)experts.Value, new TopKRule(o.TopKOrder, o.RenormalizeWeights)),
                _ => throw new ArgumentOutOfRangeException(nameof(options), o.Router, $"No routing part for {o.Router}."),
            };
        }
    }
}
