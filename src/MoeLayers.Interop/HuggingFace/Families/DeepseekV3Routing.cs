namespace MoeLayers.Interop
{
    /// <summary>
    /// The routing fields of a DeepseekV3TopkRouter (DeepSeek-V3 and every family that copies its router: Kimi K2,
    /// GLM-4.5 MoE, dots.llm1, Nemotron-H), read and checked in one place: E (n_routed_experts, or its alias
    /// num_local_experts), n_group dividing E into groups of at least 2 (a group is scored by its top two), topk_group in
    /// [1, n_group], k in [1, E] and within the kept groups' experts, norm_topk_prob (k = 1 with it refused),
    /// routed_scaling_factor &gt; 0. Each family passes its configuration class's defaults.
    /// </summary>
    /// <param name="Experts">E.</param>
    /// <param name="Groups">n_group.</param>
    /// <param name="KeptGroups">topk_group.</param>
    /// <param name="TopK">num_experts_per_tok.</param>
    /// <param name="Normalize">norm_topk_prob.</param>
    /// <param name="ScalingFactor">routed_scaling_factor.</param>
    internal sealed record DeepseekV3Routing(int Experts, int Groups, int KeptGroups, int TopK, bool Normalize, double ScalingFactor)
    {
        /// <summary>Reads the routing fields with the family's defaults (null: the field is required).</summary>
        public static DeepseekV3Routing Read(HfConfigFields f, int? experts, int groups, int keptGroups, int? topK, bool normalize, double scalingFactor)
        {
            var expertsField = f.Has("n_routed_experts") || !f.Has("num_local_experts") ? "n_routed_experts" : "num_local_experts";
            var e = f.Int(expertsField, experts, 1);
            var g = f.Int("n_group", groups, 1);
            if (e % g != 0)
                throw f.Contradiction($"'{f.Name("n_group")}' = {g} must divide '{f.Name(expertsField)}' = {e} into equal groups.");
            var kept = f.Int("topk_group", keptGroups, 1, g, $"in [1, {f.Name("n_group")} = {g}]");
            if (e / g < 2)
                throw f.Contradiction($"each of the '{f.Name("n_group")}' = {g} groups must hold at least 2 experts (a group is scored by its top two); '{f.Name(expertsField)}' = {e}.");
            var k = HfFamily.TopK(f, e, expertsField, topK);
            if (k > kept * (e / g))
                throw f.Contradiction($"'{f.Name("num_experts_per_tok")}' = {k} is more than the {kept * (e / g)} experts that '{f.Name("topk_group")}' = {kept} groups of {e / g} leave.");
            var normalized = f.Bool("norm_topk_prob", normalize);
            HfFamily.RequireRenormalizableTopK(f, "num_experts_per_tok", k, normalized);
            var scale = f.Double("routed_scaling_factor", scalingFactor, v => v > 0, "a finite number > 0");
            return new DeepseekV3Routing(e, g, kept, k, normalized, scale);
        }
    }
}
