"""Qwen3.5-MoE: config.json nests the text model under text_config (model_type qwen3_5_moe_text) and the decoder layers
live at model.language_model.layers.{i}; every layer is a Qwen3NextSparseMoeBlock whose router (Qwen3VLMoeTextTopKRouter)
renormalizes the top-k softmax probabilities unconditionally, plus the shared expert scaled by
sigmoid(shared_expert_gate(x)). Published layout: fused experts (mlp.experts.gate_up_proj [E, 2h, d], gate rows first;
mlp.experts.down_proj [E, d, h]) in BF16; also the per-expert layout (F32), which transformers reads through the same
conversion as Qwen3-Next.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/qwen3_5_moe/modular_qwen3_5_moe.py @ 0960594cbcb31be634ec36a76818155c591aafb4
    (Qwen3_5MoeTextConfig(Qwen3NextConfig) deletes norm_topk_prob, decoder_sparse_step, mlp_only_layers;
    Qwen3_5MoeTopKRouter(Qwen3VLMoeTextTopKRouter); Qwen3_5MoeSparseMoeBlock(Qwen3NextSparseMoeBlock);
    Qwen3_5MoeDecoderLayer: self.mlp = Qwen3_5MoeSparseMoeBlock(config) in every layer;
    Qwen3_5MoeForConditionalGeneration: model.language_model)
  src/transformers/models/qwen3_vl_moe/modular_qwen3_vl_moe.py @ 6e4054ae4d2748051a0080ccb6eebfbcc0848d88 (the router:
    softmax in float, top-k, weights / their sum, always)
  src/transformers/integrations/moe.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86 (the fused experts' eager forward)
"""

import torch

from ..blocks import (activation, build_experts, build_mlp, cross_checked, fuse_experts, fused_softmax_moe, fused_tensors,
                      softmax_moe)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/qwen3_5_moe/modular_qwen3_5_moe.py@0960594cbcb31be634ec36a76818155c591aafb4",
           "src/transformers/models/qwen3_vl_moe/modular_qwen3_vl_moe.py@6e4054ae4d2748051a0080ccb6eebfbcc0848d88",
           "src/transformers/integrations/moe.py@0261a467116de4a9103b58200f9d82f8fb5a0e86"]
LAYERS = "model.language_model.layers."


def build(name, dtype, fused):
    experts_count, top_k = 8, 3
    text = {"model_type": "qwen3_5_moe_text", "hidden_size": HIDDEN, "moe_intermediate_size": EXPERT_WIDTH,
            "shared_expert_intermediate_size": 16, "num_experts": experts_count, "num_experts_per_tok": top_k,
            "num_hidden_layers": 2, "layer_types": ["linear_attention", "full_attention"], "hidden_act": "silu",
            "rms_norm_eps": 1e-6, "router_aux_loss_coef": 0.001, **dtype_field(dtype, v5=True)}
    cfg = {"architectures": ["Qwen3_5MoeForConditionalGeneration"], "model_type": "qwen3_5_moe", "text_config": text,
           "vision_config": {"model_type": "qwen3_5_moe", "depth": 2, "hidden_size": 16}, "tie_word_embeddings": False,
           **dtype_field(dtype, v5=True)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe = activation(text), {}
    for layer in range(text["num_hidden_layers"]):
        prefix = f"{LAYERS}{layer}.mlp."
        router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
        experts = build_experts(weights, prefix, experts_count)
        shared = build_mlp(weights, prefix + "shared_expert.", text["shared_expert_intermediate_size"])
        shared_gate = weights.linear(prefix + "shared_expert_gate.weight", 1, HIDDEN)
        moe[layer] = softmax_moe(router, experts, top_k, True, act, shared=(shared, shared_gate))
        weights.norm(f"{LAYERS}{layer}.input_layernorm.weight")
        weights.norm(f"{LAYERS}{layer}.post_attention_layernorm.weight")
    stored = weights.stored
    if fused:
        for layer in range(text["num_hidden_layers"]):
            prefix = f"{LAYERS}{layer}.mlp."
            stored = fuse_experts(stored, prefix, experts_count)
            shared = tuple(stored[f"{prefix}shared_expert.{p}.weight"].float() for p in ("gate_proj", "up_proj", "down_proj"))
            v5 = fused_softmax_moe(stored[prefix + "gate.weight"].float(), *fused_tensors(stored, prefix), top_k, True, act,
                                   shared=(shared, stored[prefix + "shared_expert_gate.weight"].float()))
            moe[layer] = cross_checked(v5, moe[layer])
    return Fixture(name, cfg, stored, moe, [], dtype, "fused" if fused else "per_expert", SOURCES, layer_prefix=LAYERS)


FIXTURES = [Recipe("qwen3_5_moe", lambda: build("qwen3_5_moe", torch.bfloat16, fused=True)),
            Recipe("qwen3_5_moe_per_expert", lambda: build("qwen3_5_moe_per_expert", torch.float32, fused=False))]
