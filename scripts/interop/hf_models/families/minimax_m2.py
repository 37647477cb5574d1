"""MiniMax-M2: MiniMaxM2TopKRouter (sigmoid of the logits in float32; the top k of sigmoid + e_score_correction_bias,
no groups; weights = the chosen sigmoid scores / their sum, always, no epsilon, no scaling) and MixtralExperts (SwiGLU,
width intermediate_size); no shared expert; every decoder layer MoE (Mixtral's decoder layer). The published
checkpoints keep the Mixtral v4 names, block_sparse_moe.gate.weight, block_sparse_moe.e_score_correction_bias (F32) and
block_sparse_moe.experts.{i}.w1/w2/w3, which transformers v5 converts on load (the mixtral conversion plus the rename of
the bias to mlp.e_score_correction_bias): the per-expert fixture (BF16) is that layout, its forward the v5 forward on
the converted tensors; the fused fixture (F32) is the v5 layout, cross-checked against the per-expert forward.

Transcribed from github.com/huggingface/transformers:
  src/transformers/models/minimax_m2/modular_minimax_m2.py @ ea9df1d3bd9784aa7e6abd8f4be29551dd58d6d8
    (MiniMaxM2TopKRouter.forward, MiniMaxM2SparseMoeBlock.__init__ + forward, MiniMaxM2Experts = MixtralExperts)
  src/transformers/conversion_mapping.py (the minimax_m2 entry: mapping["mixtral"] + WeightRenaming(
    ".block_sparse_moe.e_score_correction_bias", ".mlp.e_score_correction_bias"))
  src/transformers/integrations/moe.py @ 0261a467116de4a9103b58200f9d82f8fb5a0e86 (the experts' eager forward)
"""

import torch
import torch.nn.functional as F

from make_hf_fixtures import fused_experts

from ..blocks import MIXTRAL_MLP, activation, build_experts, cross_checked, every_layer, fuse_experts, fused_tensors
from ..common import EXPERT_WIDTH, HIDDEN, Fixture, LayerResult, Recipe, Weights, dtype_field, seed_of

SOURCES = ["src/transformers/models/minimax_m2/modular_minimax_m2.py@ea9df1d3bd9784aa7e6abd8f4be29551dd58d6d8",
           "src/transformers/integrations/moe.py@0261a467116de4a9103b58200f9d82f8fb5a0e86"]


def minimax_m2_router(hidden_states, weight, bias, top_k):
    """MiniMaxM2TopKRouter.forward(hidden_states, e_score_correction_bias): (logits, weights, indices, choice scores)."""
    router_logits = F.linear(hidden_states.to(weight.dtype), weight)
    routing_weights = torch.sigmoid(router_logits.float())
    scores_for_choice = routing_weights + bias
    _, top_k_index = torch.topk(scores_for_choice, top_k, dim=-1, sorted=False)
    top_k_weights = routing_weights.gather(1, top_k_index)
    top_k_weights /= top_k_weights.sum(dim=-1, keepdim=True)
    return router_logits, top_k_weights, top_k_index, scores_for_choice


def minimax_m2_moe(router, bias, top_k, gate_up_proj, down_proj, act):
    """MiniMaxM2SparseMoeBlock.forward (eval: no jitter): the router, then the experts on the chosen (index, weight)."""
    def forward(x):
        logits, weights, idx, choice = minimax_m2_router(x, router, bias, top_k)
        out = fused_experts(x, idx, weights, gate_up_proj, down_proj, act)
        top = torch.topk(choice, top_k + 1, dim=-1)[0]
        return LayerResult(out, logits, idx, weights, float((top[:, top_k - 1] - top[:, top_k]).min()))
    return forward


def build(name, dtype, fused):
    experts_count, top_k = 8, 3
    cfg = {"architectures": ["MiniMaxM2ForCausalLM"], "model_type": "minimax_m2", "hidden_size": HIDDEN,
           "intermediate_size": EXPERT_WIDTH, "num_local_experts": experts_count, "num_experts_per_tok": top_k,
           "num_hidden_layers": 2, "hidden_act": "silu", "rms_norm_eps": 1e-6, "router_aux_loss_coef": 0.001,
           "scoring_func": "sigmoid", "use_routing_bias": True, "shared_intermediate_size": 0,
           **dtype_field(dtype, v5=fused)}
    weights = Weights(seed_of(name, "weights"), dtype)
    act, moe = activation(cfg), {}
    for layer in every_layer(cfg):
        prefix = f"model.layers.{layer}.block_sparse_moe."
        router = weights.linear(prefix + "gate.weight", experts_count, HIDDEN)
        build_experts(weights, prefix, experts_count, MIXTRAL_MLP)
        weights.buffer(prefix + "e_score_correction_bias", (experts_count,), std=0.05)
        weights.norm(f"model.layers.{layer}.input_layernorm.weight")
        weights.norm(f"model.layers.{layer}.post_attention_layernorm.weight")
    stored = weights.stored
    for layer in every_layer(cfg):
        # What v5 runs on the published block: its tensors stacked by the mixtral conversion.
        old, new = f"model.layers.{layer}.block_sparse_moe.", f"model.layers.{layer}.mlp."
        converted = fuse_experts(weights.stored, old, experts_count, MIXTRAL_MLP)
        per_expert = minimax_m2_moe(converted[old + "gate.weight"].float(), converted[old + "e_score_correction_bias"],
                                    top_k, *fused_tensors(converted, old), act)
        if not fused:
            moe[layer] = per_expert
            continue
        stored = {k.replace(old, new): v for k, v in fuse_experts(stored, old, experts_count, MIXTRAL_MLP).items()}
        v5 = minimax_m2_moe(stored[new + "gate.weight"].float(), stored[new + "e_score_correction_bias"], top_k,
                            *fused_tensors(stored, new), act)
        moe[layer] = cross_checked(v5, per_expert_forward(weights.stored, old, experts_count, top_k, act))
    return Fixture(name, cfg, stored, moe, [], dtype, "fused" if fused else "per_expert", SOURCES)


def per_expert_forward(stored, prefix, count, top_k, act):
    """The block computed expert by expert from the published per-expert tensors (the cross-check of the fused layout)."""
    router = stored[prefix + "gate.weight"].float()
    bias = stored[prefix + "e_score_correction_bias"]
    experts = [tuple(stored[f"{prefix}experts.{e}.{p}.weight"].float() for p in ("w1", "w3", "w2")) for e in range(count)]

    def forward(x):
        logits, weights, idx, choice = minimax_m2_router(x, router, bias, top_k)
        out = torch.zeros_like(x)
        for t in range(x.shape[0]):
            for slot in range(top_k):
                gate, up, down = experts[int(idx[t, slot])]
                out[t] += weights[t, slot] * F.linear(act(F.linear(x[t], gate)) * F.linear(x[t], up), down)
        top = torch.topk(choice, top_k + 1, dim=-1)[0]
        return LayerResult(out, logits, idx, weights, float((top[:, top_k - 1] - top[:, top_k]).min()))
    return forward


FIXTURES = [Recipe("minimax_m2", lambda: build("minimax_m2", torch.bfloat16, False)),
            Recipe("minimax_m2_fused", lambda: build("minimax_m2_fused", torch.float32, True))]
