namespace MoeLayers
{
    /// <summary>How group-limited routing scores a group of experts before keeping the best groups.</summary>
    public enum GroupScore
    {
        /// <summary>The sum of the group's two largest (bias-corrected) affinities (DeepSeek-V3, topk_method "noaux_tc").</summary>
        SumOfTopTwo,

        /// <summary>The group's largest affinity (DeepSeek-V2, topk_method "group_limited_greedy").</summary>
        Max,
    }
}
