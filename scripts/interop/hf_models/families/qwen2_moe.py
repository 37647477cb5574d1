"""Qwen2-MoE: softmax top-k (not renormalized: norm_topk_prob false), plus a shared expert scaled by
sigmoid(shared_expert_gate(x)); MoE or dense per decoder layer by decoder_sparse_step and mlp_only_layers.
Per-expert layout, as published on the Hub.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/qwen2_moe/modeling_qwen2_moe.py @ 00a3f9386614dde0dc41cf4e9b8d0abd3af0671d
    (Qwen2MoeSparseMoeBlock.forward; registers gate, experts, shared_expert, shared_expert_gate in that order;
    Qwen2MoeDecoderLayer.__init__: MoE iff (layer_idx not in mlp_only_layers) and (num_experts > 0 and
    (layer_idx + 1) % decoder_sparse_step == 0), else Qwen2MoeMLP(config, intermediate_size=config.intermediate_size))
"""

import torch

from ..blocks import activation, build_experts, build_mlp, qwen_moe_layers, softmax_moe
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/qwen2_moe/modeling_qwen2_moe.py@00a3f9386614dde0dc41cf4e9b8d0abd3af0671d"]


def build_qwen2_moe():
    name, experts_count, top_k, dtype = "qwen2_moe", 8, 2, torch.float32
    cfg = {"architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "hidden_size": HIDDEN,
           "intermediate_size": 32, "moe_intermediate_size": EXPERT_WIDTH, "shared_expert_intermediate_size": 16,
           "num_experts": experts_count, "num_experts_per_tok": top_k, "norm_topk_prob": False,
           "decoder_sparse_step": 1, "mlp_only_layers": [], "num_hidden_layers": 2, "hidden_act": "silu",
           "rms_norm_eps": 1e-6, "output_router_logits": False, "router_aux_loss_coef": 0.001,
           **dtype_field(dtype, v5=False)}
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
    dense = [l for l in range(cfg["num_hidden_layers"]) if l not in moe]
    return Fixture(name, cfg, weights.stored, moe, dense, dtype, "per_expert", SOURCES)


FIXTURES = [Recipe("qwen2_moe", build_qwen2_moe)]
