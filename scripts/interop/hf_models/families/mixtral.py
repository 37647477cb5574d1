"""Mixtral: a sparse MoE block (softmax top-2 of 8, renormalized) in every decoder layer, per-expert v4 layout.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/mixtral/modeling_mixtral.py @ 00d4b3d2142cb4ced2f51b90614b5d26bc045015
    (MixtralSparseMoeBlock.forward, MixtralBlockSparseTop2MLP: w2(act(w1(x)) * w3(x)))
  src/transformers/models/mixtral/modular_mixtral.py @ 008f5c8c29be84d4721dc6d1e0fcd72300580be4
    (MixtralDecoderLayer: self.block_sparse_moe in every layer; the block registers gate, then experts; each expert
    w1, w2, w3: the state-dict order the shards follow)
"""

import torch

from ..blocks import MIXTRAL_MLP, activation, build_experts, every_layer, softmax_moe
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Sharding, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/mixtral/modeling_mixtral.py@00d4b3d2142cb4ced2f51b90614b5d26bc045015",
           "src/transformers/models/mixtral/modular_mixtral.py@008f5c8c29be84d4721dc6d1e0fcd72300580be4"]


def build_mixtral():
    name, experts_count = "mixtral", 8
    cfg = {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": HIDDEN,
           "intermediate_size": EXPERT_WIDTH, "num_local_experts": experts_count, "num_experts_per_tok": 2,
           "num_hidden_layers": 2, "hidden_act": "silu", "router_jitter_noise": 0.0, "rms_norm_eps": 1e-5,
           "output_router_logits": False, "router_aux_loss_coef": 0.02, **dtype_field(torch.bfloat16, v5=False)}
    weights = Weights(seed_of(name, "weights"), torch.bfloat16)
    act, moe = activation(cfg), {}
    for layer in every_layer(cfg):
        prefix = f"model.layers.{layer}.block_sparse_moe."
        router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
        experts = build_experts(weights, prefix, experts_count, MIXTRAL_MLP)
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
        moe[layer] = softmax_moe(router, experts, cfg["num_experts_per_tok"], True, act)
    return Fixture(name, cfg, weights.stored, moe, [], torch.bfloat16, "per_expert", SOURCES,
                   Sharding(straddle_layer=1))


FIXTURES = [Recipe("mixtral", build_mixtral)]
