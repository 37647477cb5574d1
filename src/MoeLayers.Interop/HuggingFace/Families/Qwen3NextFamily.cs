using System.Collections.Generic;

namespace MoeLayers.Interop
{
    /// <summary>
    /// Qwen3-Next ("qwen3_next"): the Qwen2-MoE block (Qwen3NextSparseMoeBlock = Qwen2MoeSparseMoeBlock): softmax over E,
    /// top-k, renormalized when norm_topk_prob; SwiGLU experts under mlp, per expert (the Hub layout) or fused (v5); one
    /// shared expert of width shared_expert_intermediate_size scaled by sigmoid(shared_expert_gate(x)). The decoder mixes
    /// linear-attention and full-attention layers (layer_types), which changes only the token mixer: the feed-forward
    /// schedule is Qwen3-MoE's (decoder_sparse_step, mlp_only_layers; Qwen3NextDecoderLayer). Sources: transformers
    /// src/transformers/models/qwen3_next/modular_qwen3_next.py @ 043bb8dde14aae1a56b84cd230737cf5d0877912 and defaults from
    /// configuration_qwen3_next.py @ 008e574391258935f3ecc3035c882e73bbcac419 (hidden_size 2048, num_hidden_layers 48,
    /// moe_intermediate_size 512, shared_expert_intermediate_size 512, num_experts 512, num_experts_per_tok 10,
    /// norm_topk_prob true, router_aux_loss_coef 0.001, decoder_sparse_step 1, mlp_only_layers []).
    /// </summary>
    internal sealed class Qwen3NextFamily : Qwen2MoeFamily
    {
        public override HfArchitecture Architecture => HfArchitecture.Qwen3Next;

        public override IReadOnlyList<string> ModelTypes { get; } = new[] { "qwen3_next" };

        private protected override QwenSharedExpertDefaults Defaults { get; } = new(Layers: 48, Hidden: 2048, Width: 512, SharedWidth: 512, Experts: 512, TopK: 10, Normalize: true);
    }
}
