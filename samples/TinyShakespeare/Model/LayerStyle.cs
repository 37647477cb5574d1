using System;

namespace MoeLayers.Samples.TinyShakespeare.Model
{
    /// <summary>
    /// How an MoE layer is put together around its router: the sample's plain layer (E experts of width h, top-k, the
    /// Switch balance loss), or a published recipe built from the library's top-k router. Stored in checkpoints; old
    /// checkpoints, which have no such field, read as <see cref="Plain"/>.
    /// </summary>
    public enum LayerStyle
    {
        /// <summary>E experts of width h, k per token, no shared expert: the layer of the reference model.</summary>
        Plain,

        /// <summary>
        /// DeepSeek-V3 style (arXiv 2412.19437): fine-grained routed experts plus one always-on shared expert, sigmoid
        /// affinities, the k chosen weights renormalized, routed scaling factor 1, aux-loss-free balancing by a per-expert
        /// selection bias (γ = 1e-3), no balance loss and no z-loss.
        /// </summary>
        DeepSeek,

        /// <summary>
        /// Qwen2-MoE style: fine-grained routed experts chosen by softmax top-k without renormalization
        /// (norm_topk_prob = false), plus one shared expert scaled by a learned sigmoid gate (shared_expert_gate), with the
        /// sample's Switch balance loss and z-loss.
        /// </summary>
        Qwen,
    }

    /// <summary>
    /// The shapes of the fine-grained styles. Both follow the construction of DeepSeekMoE (arXiv 2401.06066) and of
    /// Qwen2-MoE: split each of the plain layer's E experts of width h into m = <see cref="Granularity"/> experts of width
    /// h/m and route to m·k of them, then turn m of those fine experts into one shared expert of width h. That leaves
    /// m·(E − 1) routed experts with m·(k − 1) per token, and keeps both the total and the active expert width of the
    /// plain layer: m·(E − 1)·h/m + h = E·h in all, m·(k − 1)·h/m + h = k·h per token. With the quick preset (E = 4,
    /// h = 256, k = 2): 12 routed experts of width 64, 4 per token, plus a shared expert of width 256.
    /// </summary>
    public static class LayerStyles
    {
        /// <summary>Fine experts per plain expert, m.</summary>
        public const int Granularity = 4;

        /// <summary>The aux-loss-free bias update rate γ of the DeepSeek style (DeepSeek-V3's 0.001).</summary>
        public const double DeepSeekBiasRate = 1e-3;

        /// <summary>Command-line name: deepseek, qwen (plain layers are named by their router).</summary>
        public static string Display(LayerStyle style) => style switch
        {
            LayerStyle.DeepSeek => "deepseek",
            LayerStyle.Qwen => "qwen",
            _ => throw new ArgumentOutOfRangeException(nameof(style), style, "plain layers are named by their router."),
        };

        /// <summary>
        /// The configuration of <paramref name="style"/> built from the plain configuration <paramref name="plain"/>
        /// (its E, h and k): top-k router, m·(E − 1) routed experts of width h/m, m·(k − 1) per token, one shared expert of
        /// width h. <see cref="LayerStyle.Plain"/> returns <paramref name="plain"/> unchanged.
        /// </summary>
        /// <exception cref="ArgumentException">E or k below 2, or h not divisible by m.</exception>
        public static ModelConfig Apply(ModelConfig plain, LayerStyle style)
        {
            ArgumentNullException.ThrowIfNull(plain);
            if (style == LayerStyle.Plain) return plain with { Style = LayerStyle.Plain };
            if (plain.Experts < 2 || plain.TopK < 2)
                throw new ArgumentException($"the {Display(style)} style splits off a shared expert, so it needs at least 2 experts and k ≥ 2; got {plain.Experts} experts, k = {plain.TopK}.", nameof(plain));
            if (plain.ExpertHiddenDim % Granularity != 0)
                throw new ArgumentException($"the {Display(style)} style splits each expert of width {plain.ExpertHiddenDim} into {Granularity}; the width must be divisible by {Granularity}.", nameof(plain));
            return plain with
            {
                Style = style,
                Router = RouterKind.TopK,
                Experts = Granularity * (plain.Experts - 1),
                TopK = Granularity * (plain.TopK - 1),
                ExpertHiddenDim = plain.ExpertHiddenDim / Granularity,
                SharedExperts = 1,
                SharedHiddenDim = plain.ExpertHiddenDim,
            };
        }
    }
}
