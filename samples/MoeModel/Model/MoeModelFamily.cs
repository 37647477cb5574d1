namespace MoeLayers.Samples.MoeModel
{
    /// <summary>The Hugging Face model families the decoder computes (config.json's model_type).</summary>
    public enum MoeModelFamily
    {
        /// <summary>qwen3_moe (Qwen3-30B-A3B, Qwen3-235B-A22B): per-head QK norm, decoder_sparse_step / mlp_only_layers.</summary>
        Qwen3Moe,

        /// <summary>olmoe (OLMoE-1B-7B): QK norm over the whole q and k projections, MoE in every layer.</summary>
        Olmoe,

        /// <summary>mixtral (Mixtral-8x7B, 8x22B): plain GQA, block_sparse_moe in every layer.</summary>
        Mixtral,

        /// <summary>gpt_oss (gpt-oss-20b, -120b): attention biases, learned sinks, sliding-window layers, YaRN.</summary>
        GptOss,

        /// <summary>glm4_moe (GLM-4.5, 4.6, 4.7): partial rotary, optional QK norm, first_k_dense_replace dense layers.</summary>
        Glm4Moe,
    }
}
