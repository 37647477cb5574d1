"""Qwen3-Next: the Qwen2-MoE block (softmax top-k, renormalized: norm_topk_prob true by default here, plus a shared
expert scaled by sigmoid(shared_expert_gate(x))); MoE or dense per decoder layer by decoder_sparse_step and
mlp_only_layers, whatever each layer's token mixer (layer_types: linear or full attention) is. Per-expert layout, as
published on the Hub (BF16), and transformers v5 fused layout.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/qwen3_next/modular_qwen3_next.py @ 043bb8dde14aae1a56b84cd230737cf5d0877912
    (Qwen3NextSparseMoeBlock(Qwen2MoeSparseMoeBlock), Qwen3NextTopKRouter(Qwen2MoeTopKRouter),
    Qwen3NextExperts(Qwen2MoeExperts); Qwen3NextDecoderLayer.__init__: the token mixer by layer_types[layer_idx], then
    MoE iff (layer_idx not in mlp_only_layers) and (num_experts > 0 and (layer_idx + 1) % decoder_sparse_step == 0),
    else Qwen3NextMLP(config, intermediate_size=config.intermediate_size))
  src/transformers/models/qwen2_moe/modular_qwen2_moe.py @ 001f85b38fb432858ace93f18622f07cec46d874 (Qwen2MoeTopKRouter,
    Qwen2MoeSparseMoeBlock.forward: experts(x) + sigmoid(shared_expert_gate(x)) * shared_expert(x));
  src/transformers/conversion_mapping.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6 ("qwen3_next" = "qwen2_moe");
  src/transformers/integrations/moe.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86 (the experts' eager forward)
"""

import torch

from ..blocks import (activation, build_experts, build_mlp, cross_checked, fuse_experts, fused_softmax_moe, fused_tensors,
                      qwen_moe_layers, softmax_moe)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

PER_EXPERT_SOURCES = ["src/transformers/models/qwen3_next/modular_qwen3_next.py@043bb8dde14aae1a56b84cd230737cf5d0877912",
                      "src/transformers/models/qwen2_moe/modular_qwen2_moe.py@001f85b38fb432858ace93f18622f07cec46d874"]
FUSED_SOURCES = PER_EXPERT_SOURCES + ["src/transformers/conversion_mapping.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
                                      "src/transformers/integrations/moe.py@0261a467116de4a9103b58200f9d82f8fb5a0e86"]


def build(name, dtype, fused):
    experts_count, top_k = 8, 2
    cfg = {"architectures": ["Qwen3NextForCausalLM"], "model_type": "qwen3_next", "hidden_size": HIDDEN,
           "intermediate_size": 32, "moe_intermediate_size": EXPERT_WIDTH, "shared_expert_intermediate_size": 16,
           "num_experts": experts_count, "num_experts_per_tok": top_k, "norm_topk_prob": True,
           "decoder_sparse_step": 1, "mlp_only_layers": [1], "num_hidden_layers": 3,
           "layer_types": ["linear_attention", "linear_attention", "full_attention"], "hidden_act": "silu",
           "rms_norm_eps": 1e-6, "output_router_logits": False, "router_aux_loss_coef": 0.001,
           **dtype_field(dtype, v5=fused)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe_layers, moe = activation(cfg), qwen_moe_layers(cfg), {}
    for layer in range(cfg["num_hidden_layers"]):
        prefix = f"model.layers.{layer}.mlp."
        if layer in moe_layers:
            router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
            experts = build_experts(weights, prefix, experts_count)
            shared = build_mlp(weights, prefix + "shared_expert.", cfg["shared_expert_intermediate_size"])
            shared_gate = weights.linear(prefix + "shared_expert_gate.weight", 1, HIDDEN)
            moe[layer] = softmax_moe(router, experts, top_k, cfg["norm_topk_prob"], act, shared=(shared, shared_gate))
        else:
            build_mlp(weights, prefix, cfg["intermediate_size"])
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
    stored = weights.stored
    if fused:
        for layer in moe_layers:
            prefix = f"model.layers.{layer}.mlp."
            stored = fuse_experts(stored, prefix, experts_count)
            shared = tuple(stored[f"{prefix}shared_expert.{p}.weight"].float() for p in ("gate_proj", "up_proj", "down_proj"))
            v5 = fused_softmax_moe(stored[prefix + "gate.weight"].float(), *fused_tensors(stored, prefix), top_k,
                                   cfg["norm_topk_prob"], act,
                                   shared=(shared, stored[prefix + "shared_expert_gate.weight"].float()))
            moe[layer] = cross_checked(v5, moe[layer])
    dense = [l for l in range(cfg["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, stored, moe, dense, dtype, "fused" if fused else "per_expert",
                   FUSED_SOURCES if fused else PER_EXPERT_SOURCES)


FIXTURES = [Recipe("qwen3_next", lambda: build("qwen3_next", torch.bfloat16, fused=False)),
            Recipe("qwen3_next_fused", lambda: build("qwen3_next_fused", torch.float32, fused=True))]
