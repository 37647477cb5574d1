"""OLMoE: a sparse MoE block (softmax top-k, not renormalized: norm_topk_prob false) in every decoder layer; the
experts' width is intermediate_size. Per-expert layout (as published on the Hub) and transformers v5 fused layout.

Transcribed from github.com/huggingface/transformers:
  per expert: src/transformers/models/olmoe/modeling_olmoe.py @ f321adbcdc617db59b4948f9b3b2eb679a57f2dd
    (OlmoeSparseMoeBlock.forward, OlmoeMLP; OlmoeDecoderLayer: self.mlp = OlmoeSparseMoeBlock in every layer; the
    block registers gate, then experts)
  fused (v5): src/transformers/models/olmoe/modular_olmoe.py @ 12e8d45900eea2958464541c99d598e8ddb2415e
    (OlmoeSparseMoeBlock: gate = OlmoeTopKRouter(Qwen2MoeTopKRouter), experts = OlmoeExperts(MixtralExperts));
    src/transformers/models/qwen2_moe/modular_qwen2_moe.py @ 001f85b38fb432858ace93f18622f07cec46d874
    (Qwen2MoeTopKRouter.forward); src/transformers/conversion_mapping.py @ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6
    ("olmoe" = "qwen2_moe": gate_proj/up_proj stacked and concatenated into experts.gate_up_proj, down_proj stacked);
    src/transformers/integrations/moe.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86 (the experts' eager forward)
"""

import torch

from ..blocks import (activation, build_experts, cross_checked, every_layer, fuse_experts, fused_softmax_moe,
                      fused_tensors, softmax_moe)
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, Recipe, Weights, dtype_field, seed_of

PER_EXPERT_SOURCES = ["src/transformers/models/olmoe/modeling_olmoe.py@f321adbcdc617db59b4948f9b3b2eb679a57f2dd"]
FUSED_SOURCES = ["src/transformers/models/olmoe/modular_olmoe.py@12e8d45900eea2958464541c99d598e8ddb2415e",
                 "src/transformers/models/qwen2_moe/modular_qwen2_moe.py@001f85b38fb432858ace93f18622f07cec46d874",
                 "src/transformers/conversion_mapping.py@000c33fdfde12e1ffafbfcdb3c926df5727a00b6",
                 "src/transformers/integrations/moe.py@0261a467116de4a9103b58200f9d82f8fb5a0e86"]


def build(name, dtype, fused):
    experts_count, top_k = 8, 3
    cfg = {"architectures": ["OlmoeForCausalLM"], "model_type": "olmoe", "hidden_size": HIDDEN,
           "intermediate_size": EXPERT_WIDTH, "num_experts": experts_count, "num_experts_per_tok": top_k,
           "norm_topk_prob": False, "num_hidden_layers": 2, "hidden_act": "silu", "rms_norm_eps": 1e-5,
           "output_router_logits": False, "router_aux_loss_coef": 0.01, **dtype_field(dtype, v5=fused)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe = activation(cfg), {}
    for layer in every_layer(cfg):
        prefix = f"model.layers.{layer}.mlp."
        router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
        experts = build_experts(weights, prefix, experts_count, width=cfg["intermediate_size"])
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
        moe[layer] = softmax_moe(router, experts, top_k, cfg["norm_topk_prob"], act)
    stored = weights.stored
    if fused:
        for layer in every_layer(cfg):
            prefix = f"model.layers.{layer}.mlp."
            stored = fuse_experts(stored, prefix, experts_count)
            v5 = fused_softmax_moe(stored[prefix + "gate.weight"].float(), *fused_tensors(stored, prefix), top_k,
                                   cfg["norm_topk_prob"], act)
            moe[layer] = cross_checked(v5, moe[layer])
    return Fixture(name, cfg, stored, moe, [], dtype, "fused" if fused else "per_expert",
                   FUSED_SOURCES if fused else PER_EXPERT_SOURCES)


FIXTURES = [Recipe("olmoe", lambda: build("olmoe", torch.float16, fused=False)),
            Recipe("olmoe_fused", lambda: build("olmoe_fused", torch.float32, fused=True))]
