namespace MoeLayers.Interop
{
    /// <summary>How a checkpoint stores the routed experts.</summary>
    public enum HfExpertLayout
    {
        /// <summary>One nn.Linear per projection and expert: experts.{i}.gate_proj.weight [h, d], ... (most Hub checkpoints).</summary>
        PerExpert,

        /// <summary>
        /// Fused 3-D tensors of transformers v5: experts.gate_up_proj [E, 2h, d] (gate rows first, then up) and
        /// experts.down_proj [E, d, h].
        /// </summary>
        Fused,
    }
}
