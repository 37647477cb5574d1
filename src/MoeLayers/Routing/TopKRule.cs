namespace MoeLayers
{
    /// <summary>
    /// How a top-k router selects and weights: the plain softmax rule (Mixtral, Qwen, OLMoE) by default, and with a
    /// sigmoid score, expert groups, a balance bias and a scaling factor the DeepSeek-V2/V3 rules.
    /// </summary>
    /// <param name="Order">Softmax/top-k order (softmax scores only).</param>
    /// <param name="Renormalize">Rescale the k weights to sum to 1 (norm_topk_prob); null means when k &gt; 1.</param>
    /// <param name="Score">Softmax or sigmoid affinities.</param>
    /// <param name="Groups">Expert groups (n_group); 1 for none.</param>
    /// <param name="KeptGroups">Groups each token keeps (topk_group).</param>
    /// <param name="GroupScore">How a group is scored.</param>
    /// <param name="ScalingFactor">Multiplies the selected weights (routed_scaling_factor).</param>
    /// <param name="BalanceBias">Keep a selection-only per-expert bias buffer for aux-loss-free balancing.</param>
    internal sealed record TopKRule(TopKOrder Order, bool? Renormalize, ScoreFunction Score = ScoreFunction.Softmax, int Groups = 1,
        int KeptGroups = 1, GroupScore GroupScore = GroupScore.SumOfTopTwo, double ScalingFactor = 1.0, bool BalanceBias = false)
    {
        /// <summary>The plain softmax rule, which the fused CUDA selection implements.</summary>
        public bool IsPlainSoftmax => Score == ScoreFunction.Softmax && Groups == 1 && !BalanceBias && ScalingFactor == 1.0;

        /// <summary>Whether the k weights are rescaled to sum to 1 for this k (softmax-then-top-k and k &gt; 1 only).</summary>
        /// <param name="topK">Experts per token.</param>
        public bool Renormalizes(int topK) => topK > 1 && (Renormalize ?? true);

        /// <summary>The rule the options describe.</summary>
        public static TopKRule From(MoeLayerOptions o) => new(o.TopKOrder, o.RenormalizeWeights, o.ScoreFunction,
            o.ExpertGroups, o.TopKGroups, o.GroupScore, o.RoutedScalingFactor, o.BalanceBias);
    }
}
