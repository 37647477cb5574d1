"""Qwen3-MoE: softmax top-k, renormalized (norm_topk_prob), no shared expert; MoE or dense per decoder layer by
decoder_sparse_step and mlp_only_layers. Per-expert layout (as published on the Hub) and transformers v5 fused layout.

Transcribed from github.com/huggingface/transformers:
  per expert: src/transformers/models/qwen3_moe/modeling_qwen3_moe.py @ 16b6c53c8ec3a720bd45c1c377bf94e1d01249c5
    (Qwen3MoeSparseMoeBlock.forward; Qwen3MoeMLP; Qwen3MoeDecoderLayer.__init__: MoE iff (layer_idx not in
    mlp_only_layers) and (num_experts > 0 and (layer_idx + 1) % decoder_sparse_step == 0), else
    Qwen3MoeMLP(config, intermediate_size=config.intermediate_size); the block registers gate, then experts)
  fused (v5): src/transformers/models/qwen3_moe/modular_qwen3_moe.py @ 00eb1166685205e8b2c75ab33eee83dc77b18fca
    (Qwen3MoeSparseMoeBlock: experts = Qwen3MoeExperts(Qwen2MoeExperts), gate = Qwen3MoeTopKRouter(Qwen2MoeTopKRouter));
    src/transformers/models/qwen2_moe/modular_qwen2_moe.py @ 001f85b38fb432858ace93f18622f07cec46d874
    (Qwen2MoeTopKRouter.forward: softmax in float, top-k, renormalize iff norm_topk_prob; Qwen2MoeExperts: MixtralExperts
    with intermediate_dim = moe_intermediate_size); src/transformers/conversion_mapping.py @
    000c33fdfde12e1ffafbfcdb3c926df5727a00b6 ("qwen3_moe" = "qwen2_moe": experts.*.gate_proj/up_proj stacked and
    concatenated into experts.gate_up_proj, experts.*.down_proj stacked into experts.down_proj);
    src/transformers/integrations/moe.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86 (the experts' eager forward)
"""

import torch

from ..blocks import (activation, build_experts, build_mlp, cross_checked, fuse_experts, fused_softmax_moe, fused_tensors,
                      qwen_moe_layers, softmax_moe)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of
from ..fp8 import Fp8Storage, projections_only, quantization_config

PER_EXPERT_SOURCES = ["src/transformers/models/qwen3_moe/modeling_qwen3_moe.py@16b6c53c8ec3a720bd45c1c377bf94e1d01249c5"]
FUSED_SOURCES = ["src/transformers/models/qwen3_moe/modular_qwen3_moe.py@00eb1166685205e8b2c75ab33eee83dc77b18fca",
                 "src/transformers/models/qwen2_moe/modular_qwen2_moe.py@001f85b38fb432858ace93f18622f07cec46d874",
                 "src/transformers/conversion_mapping.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
                 "src/transformers/integrations/moe.py@0261a467116de4a9103b58200f9d82f8fb5a0e86"]


def build(name, dtype, fused, fp8=None):
    experts_count, top_k = 8, 2
    cfg = {"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": HIDDEN,
           "intermediate_size": 32, "moe_intermediate_size": EXPERT_WIDTH, "num_experts": experts_count,
           "num_experts_per_tok": top_k, "norm_topk_prob": True, "decoder_sparse_step": 2, "mlp_only_layers": [3],
           "num_hidden_layers": 4, "hidden_act": "silu", "rms_norm_eps": 1e-6, "output_router_logits": False,
           "router_aux_loss_coef": 0.001, **dtype_field(dtype, v5=fused)}
    if fp8 is not None:
        # Qwen3MoeSparseMoeBlock.gate is an nn.Linear, so the FP8 releases name it (and lm_head) in
        # modules_to_not_convert to keep it unquantized (integrations/finegrained_fp8.py: replace_with_fp8_linear).
        cfg["quantization_config"] = {**quantization_config(fp8.block), "modules_to_not_convert":
                                      ["lm_head"] + [f"model.layers.{i}.mlp.gate" for i in qwen_moe_layers(cfg)]}
    weights = Weights(seed_of(name, "weights"), dtype, fp8)
    act, moe_layers, moe = activation(cfg), qwen_moe_layers(cfg), {}
    for layer in range(cfg["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.mlp."
        if layer in moe_layers:
            router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
            experts = build_experts(weights, prefix, experts_count)
            moe[layer] = softmax_moe(router, experts, top_k, cfg["norm_topk_prob"], act)
        else:
            build_mlp(weights, prefix, cfg["intermediate_size"])
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
    stored = weights.stored
    if fused:
        for layer in moe_layers:
            prefix = f"model.layers.{layer}.mlp."
            stored = fuse_experts(stored, prefix, experts_count)
            v5 = fused_softmax_moe(stored[prefix + "gate.weight"].float(), *fused_tensors(stored, prefix), top_k,
                                   cfg["norm_topk_prob"], act)
            moe[layer] = cross_checked(v5, moe[layer])
    dense = [l for l in range(cfg["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, stored, moe, dense, dtype, "fused" if fused else "per_expert",
                   FUSED_SOURCES if fused else PER_EXPERT_SOURCES)


FIXTURES = [Recipe("qwen3_moe", lambda: build("qwen3_moe", torch.float32, fused=False)),
            Recipe("qwen3_moe_fused", lambda: build("qwen3_moe_fused", torch.bfloat16, fused=True)),
            # Qwen3-FP8 style: expert and dense-MLP projections F8_E4M3 with a BF16 weight_scale_inv (the Qwen FP8
            # releases' scale dtype), gate.weight and norms BF16. 6 × 4 blocks: partial edge blocks down the rows.
            Recipe("qwen3_moe_fp8", lambda: build("qwen3_moe_fp8", torch.bfloat16, fused=False,
                                                  fp8=Fp8Storage((6, 4), torch.bfloat16, projections_only)))]
