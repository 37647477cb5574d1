namespace MoeLayers.Interop
{
    /// <summary>How a checkpoint stores the routed experts.</summary>
    public enum HfExpertLayout
    {
        /// <summary>One nn.Linear per projection and expert: experts.{i}.gate_proj.weight [h, d], ... (most Hub checkpoints).</summary>
        PerExpert,

        /// <summary>
        /// Fused 3-D tensors of transformers v5: experts.gate_up_proj [E, 2h, d] (gate rows first, then up) and
        /// experts.down_proj [E, d, h]. Families whose published experts are fused keep their own names and arrangement
        /// under this value (Granite's input_linear / output_linear; gpt-oss's input-major gate_up_proj [E, d, 2h] with
        /// gate and up interleaved, down_proj [E, h, d], and biases): the package README's Families table says which.
        /// </summary>
        Fused,

        /// <summary>
        /// DBRX's flattened experts: ffn.experts.mlp.w1 (gate), v1 (up) and w2 (down), each [E·h, d] with expert e in rows
        /// e·h … (e+1)·h − 1; w1 and v1 are [out, in] per expert, w2 is [in, out] (applied as x·w2).
        /// </summary>
        Flattened,
    }
}
