"""Nemotron-H (Nemotron 3 Nano): a hybrid whose decoder layers (backbone.layers.{i}) each hold one mixer, chosen by
hybrid_override_pattern: 'M' Mamba-2, '*' attention, '-' a dense ReLU² MLP (mixer.up_proj/down_proj, width
intermediate_size), 'E' the MoE block. The MoE block routes as DeepSeek-V3 (float32 logits of mixer.gate.weight,
sigmoid, choice by s + mixer.gate.e_score_correction_bias within the topk_group best of n_group groups, weights
s / (sum + 1e-20) when norm_topk_prob, x routed_scaling_factor); its experts are ungated,
down_proj(relu(up_proj(x))^2), per expert mixer.experts.{i}.up_proj/down_proj of width moe_intermediate_size; one shared
expert of the same form (mixer.shared_experts.up_proj/down_proj, width moe_shared_expert_intermediate_size) is added.
The Hub checkpoints' layout: per expert, BF16, the router weight and correction bias float32.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/nemotron_h/modeling_nemotron_h.py @ 897753a012bfa6dac8c0ae3281f23a2fc1e72db6
    (NemotronHTopkRouter.forward: float32 logits; NemotronHMoE.route_tokens_to_experts: DeepseekV3MoE's arithmetic;
    NemotronHExperts.forward: linear(up), act, linear(down), x topk_weights[token, slot], index_add; NemotronHMLP:
    down_proj(act_fn(up_proj(x))); NemotronHMoE.forward: routed experts + shared_experts(residuals); NemotronHBlock
    registers norm, then mixer)
  src/transformers/models/nemotron_h/configuration_nemotron_h.py @ 13923c63d59f73faebae79b2ee3fafc7e3a35201
    (_pattern_to_list: M -> linear_attention (mamba), E -> moe, * -> full_attention (attention), - -> mlp)
  src/transformers/activations.py (ACT2FN["relu2"] = ReLUSquaredActivation: square(relu(x)))
  and NVIDIA's remote modeling_nemotron_h.py shipped with the Hub checkpoints (NemotronHMOE: experts as an
  nn.ModuleList of NemotronHMLP(up_proj, down_proj), gate, shared_experts: the per-expert keys and their order;
  the router weight created float32)
"""

import torch
import torch.nn.functional as F

from make_hf_fixtures import deepseek_v3_router

from ..blocks import deepseek_margin
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, LayerResult, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/nemotron_h/modeling_nemotron_h.py@897753a012bfa6dac8c0ae3281f23a2fc1e72db6",
           "src/transformers/models/nemotron_h/configuration_nemotron_h.py@13923c63d59f73faebae79b2ee3fafc7e3a35201"]
PATTERN = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}


def relu2(x):
    """ReLUSquaredActivation.forward: square(relu(x))."""
    return torch.square(F.relu(x))


def relu2_mlp(x, up, down):
    """NemotronHMLP.forward: down_proj(act_fn(up_proj(x))), no gate."""
    return F.linear(relu2(F.linear(x, up)), down)


def nemotron_h_moe(router, bias, experts, shared, cfg):
    """NemotronHMoE.forward: route as DeepseekV3MoE, run the ungated ReLU² experts weighted per (token, slot), add the
    shared expert on the block's input."""
    def forward(x):
        logits, idx, weights, choice, group_scores = deepseek_v3_router(x, router, bias, cfg)
        final_hidden_states = torch.zeros_like(x, dtype=weights.dtype)
        expert_mask = F.one_hot(idx, num_classes=len(experts)).permute(2, 1, 0)
        expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero().squeeze(-1)
        for expert_idx in expert_hit:
            e = int(expert_idx)
            top_k_pos, token_idx = torch.where(expert_mask[e])
            current = relu2_mlp(x[token_idx], *experts[e])
            current = current * weights[token_idx, top_k_pos, None]
            final_hidden_states.index_add_(0, token_idx, current.to(final_hidden_states.dtype))
        out = final_hidden_states.to(x.dtype) + relu2_mlp(x, *shared)
        return LayerResult(out, logits, idx, weights, deepseek_margin(logits, bias, choice, group_scores, cfg))
    return forward


def build(name):
    dtype = torch.bfloat16
    pattern, experts_count = "M*E-E", 16
    cfg = {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h", "hidden_size": HIDDEN,
           "hybrid_override_pattern": pattern, "num_hidden_layers": len(pattern), "intermediate_size": 32,
           "moe_intermediate_size": EXPERT_WIDTH, "moe_shared_expert_intermediate_size": 16,
           "n_routed_experts": experts_count, "num_experts_per_tok": 4, "n_group": 1, "topk_group": 1,
           "norm_topk_prob": True, "routed_scaling_factor": 2.5, "mlp_hidden_act": "relu2", "mlp_bias": False,
           "mamba_hidden_act": "silu", "mamba_num_heads": 4, "mamba_head_dim": 8, "n_groups": 1, "ssm_state_size": 8,
           "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "layer_norm_epsilon": 1e-5,
           **dtype_field(dtype, v5=False)}
    weights = Weights(seed_of(name, "weights"), dtype)
    moe = {}
    for layer, block in enumerate(pattern):
        layer_prefix = f"backbone.layers.{layer}."
        weights.norm(layer_prefix + "norm.weight")
        prefix = layer_prefix + "mixer."
        if PATTERN[block] == "moe":
            h = cfg["moe_intermediate_size"]
            experts = [(weights.linear(f"{prefix}experts.{e}.up_proj.weight", h, HIDDEN),
                        weights.linear(f"{prefix}experts.{e}.down_proj.weight", HIDDEN, h)) for e in range(experts_count)]
            # NVIDIA's NemotronHTopkRouter keeps its weight float32, as the correction bias buffer.
            router = weights.parameter(prefix + "gate.weight", (experts_count, HIDDEN), fan_in=HIDDEN, dtype=torch.float32)
            bias = weights.buffer(prefix + "gate.e_score_correction_bias", (experts_count,), std=0.05)
            width = cfg["moe_shared_expert_intermediate_size"]
            shared = (weights.linear(prefix + "shared_experts.up_proj.weight", width, HIDDEN),
                      weights.linear(prefix + "shared_experts.down_proj.weight", HIDDEN, width))
            moe[layer] = nemotron_h_moe(router, bias, experts, shared, cfg)
        elif PATTERN[block] == "mlp":
            weights.linear(prefix + "up_proj.weight", cfg["intermediate_size"], HIDDEN)
            weights.linear(prefix + "down_proj.weight", HIDDEN, cfg["intermediate_size"])
        elif PATTERN[block] == "attention":
            weights.linear(prefix + "o_proj.weight", HIDDEN, HIDDEN)  # one of the attention's projections
        else:
            weights.linear(prefix + "out_proj.weight", HIDDEN, HIDDEN)  # one of the Mamba-2 mixer's projections
    dense = [l for l in range(len(pattern)) if l not in moe]
    return Fixture(name, cfg, weights.stored, moe, dense, dtype, "per_expert", SOURCES,
                   layer_prefix="backbone.layers.", norms=("norm",))


FIXTURES = [Recipe("nemotron_h", lambda: build("nemotron_h"))]
