"""Transcribed pieces the family modules share: MoE blocks as their published forwards compute them, the layer
schedules, and the builders that store a block's weights under its published keys in registration order.

The forwards themselves are make_hf_fixtures.py's transcriptions (one copy for both scripts; its docstring cites each
file and commit): swiglu_mlp, softmax_topk_block (Mixtral/Qwen2-MoE/Qwen3-MoE/OLMoE per-expert blocks),
fused_topk_router + fused_experts (transformers v5 fused layout), deepseek_v3_router + deepseek_v3_moe.
"""

import torch
import torch.nn.functional as F

from make_hf_fixtures import (ACT2FN, deepseek_v3_moe, deepseek_v3_router, fused_experts, fused_topk_router,
                              margin_softmax, softmax_topk_block, swiglu_mlp)

from .common import EXPERT_WIDTH, HIDDEN, LayerResult

# ------------------------------------------------------------------------------------------------------------------
# Layer schedules: which decoder layers hold a MoE block.
# ------------------------------------------------------------------------------------------------------------------


def qwen_moe_layers(cfg):
    """Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer.__init__: MoE iff (layer_idx not in mlp_only_layers) and
    (num_experts > 0 and (layer_idx + 1) % decoder_sparse_step == 0); otherwise a dense MLP of intermediate_size."""
    return [i for i in range(cfg["num_hidden_layers"])
            if i not in cfg["mlp_only_layers"] and cfg["num_experts"] > 0 and (i + 1) % cfg["decoder_sparse_step"] == 0]


def deepseek_moe_layers(cfg):
    """DeepseekV3DecoderLayer.__init__: MoE iff layer_idx >= first_k_dense_replace; otherwise DeepseekV3MLP(config)
    (width intermediate_size). (transformers does not read moe_layer_freq.)"""
    return [i for i in range(cfg["num_hidden_layers"]) if i >= cfg["first_k_dense_replace"]]


def every_layer(cfg):
    """MixtralDecoderLayer / OlmoeDecoderLayer: a sparse MoE block in every layer."""
    return list(range(cfg["num_hidden_layers"]))


# ------------------------------------------------------------------------------------------------------------------
# Builders: weights under published keys, in the module's registration order.
# ------------------------------------------------------------------------------------------------------------------

STANDARD_MLP = {"gate": "gate_proj", "up": "up_proj", "down": "down_proj", "order": ("gate", "up", "down")}
# MixtralBlockSparseTop2MLP registers w1 (gate), w2 (down), w3 (up), in that order.
MIXTRAL_MLP = {"gate": "w1", "up": "w3", "down": "w2", "order": ("gate", "down", "up")}


def build_mlp(weights, prefix, width, names=STANDARD_MLP):
    """A SwiGLU MLP (gate [width, d], up [width, d], down [d, width]) under prefix; returns (gate, up, down) float32."""
    shapes = {"gate": (width, HIDDEN), "up": (width, HIDDEN), "down": (HIDDEN, width)}
    used = {part: weights.linear(f"{prefix}{names[part]}.weight", *shapes[part]) for part in names["order"]}
    return used["gate"], used["up"], used["down"]


def build_experts(weights, prefix, count, names=STANDARD_MLP, width=EXPERT_WIDTH):
    """prefix + experts.{i}.<proj>.weight for i in 0..count-1 (nn.ModuleList order); returns [(gate, up, down)]."""
    return [build_mlp(weights, f"{prefix}experts.{e}.", width, names) for e in range(count)]


def fuse_experts(stored, prefix, count, names=STANDARD_MLP):
    """transformers v5 conversion_mapping.py (@ 000c33fdfde12e1ffafbfcdb3c926df5727a00b6): each projection stacked
    over experts (MergeModulelist(dim=0)), gate and up concatenated on dim 1 (Concatenate(dim=1)):
    experts.gate_up_proj [E, 2h, d] (gate rows first), experts.down_proj [E, d, h]. Returns a new ordered dict with
    the layer's per-expert keys replaced, where the first of them stood, by the two fused tensors."""
    def stacked(part):
        return torch.stack([stored[f"{prefix}experts.{e}.{names[part]}.weight"] for e in range(count)], dim=0)

    fused = {prefix + "experts.gate_up_proj": torch.cat([stacked("gate"), stacked("up")], dim=1),
             prefix + "experts.down_proj": stacked("down")}
    result = {}
    for key, tensor in stored.items():
        if key.startswith(prefix + "experts."):
            result.update(fused)  # once: later expert keys find them present
            continue
        result[key] = tensor
    return result


def fused_tensors(stored, prefix):
    """A fused layer's (gate_up_proj, down_proj) as the forward uses them: the stored values, upcast."""
    return stored[prefix + "experts.gate_up_proj"].float(), stored[prefix + "experts.down_proj"].float()


# ------------------------------------------------------------------------------------------------------------------
# Forwards, one MoE layer each: x [T, d] float32 -> LayerResult.
# ------------------------------------------------------------------------------------------------------------------


def shared_expert_output(x, shared, act):
    """Qwen2MoeSparseMoeBlock: shared_expert(x) * sigmoid(shared_expert_gate(x)); DeepseekV3MoE: shared_experts(x)."""
    if shared is None:
        return 0.0
    (gate, up, down), shared_gate = shared
    out = swiglu_mlp(x, gate, up, down, act)
    return out if shared_gate is None else torch.sigmoid(F.linear(x, shared_gate)) * out


def softmax_moe(router, experts, top_k, norm_topk_prob, act, shared=None):
    """Per-expert softmax top-k block (Mixtral: norm always; Qwen2/Qwen3/OLMoE: iff norm_topk_prob), plus the shared
    expert when given."""
    def forward(x):
        out, logits, idx, weights = softmax_topk_block(x, router, experts, top_k, norm_topk_prob, act)
        out = out + shared_expert_output(x, shared, act)
        return LayerResult(out, logits, idx, weights, margin_softmax(F.softmax(logits, dim=1, dtype=torch.float), top_k))
    return forward


def fused_softmax_moe(router, gate_up_proj, down_proj, top_k, norm_topk_prob, act, shared=None):
    """v5 fused layout: <Family>TopKRouter (softmax in float, top-k, optional renormalization) then <Family>Experts
    (integrations/moe.py's eager reference), plus the shared expert when given (v5 Qwen2MoeSparseMoeBlock)."""
    def forward(x):
        logits, weights, idx = fused_topk_router(x, router, top_k, norm_topk_prob)
        out = fused_experts(x, idx, weights, gate_up_proj, down_proj, act) + shared_expert_output(x, shared, act)
        return LayerResult(out, logits, idx, weights, margin_softmax(F.softmax(logits.float(), dim=-1), top_k))
    return forward


def deepseek_margin(logits, bias, choice, group_scores, cfg):
    """The smaller of the group-selection and expert-selection gaps; and every choice score positive, because masked
    experts score exactly 0.0 and a kept expert below 0 would tie with them."""
    k, g = cfg["num_experts_per_tok"], cfg["topk_group"]
    top_groups = torch.topk(group_scores, g + 1, dim=-1)[0] if g < cfg["n_group"] else None
    top_choice = torch.topk(choice, k + 1, dim=-1)[0]
    margin = float((top_choice[:, k - 1] - top_choice[:, k]).min())
    if top_groups is not None:
        margin = min(margin, float((top_groups[:, g - 1] - top_groups[:, g]).min()))
    return min(margin, float((torch.sigmoid(logits) + bias).min()))


def deepseek_moe(router, bias, cfg, act, shared, experts=None, fused=None):
    """DeepseekV3MoE.forward: the router (DeepseekV3TopkRouter.forward + get_topk_indices in v4,
    DeepseekV3TopkRouter.forward + DeepseekV3MoE.route_tokens_to_experts in v5: the same arithmetic), the routed
    experts (per expert: DeepseekV3MoE.moe; fused (gate_up_proj, down_proj): the v5 experts module's eager forward),
    plus shared_experts(x)."""
    def forward(x):
        logits, idx, weights, choice, group_scores = deepseek_v3_router(x, router, bias, cfg)
        if fused is None:
            out = deepseek_v3_moe(x, idx, weights, experts, act)
        else:
            out = fused_experts(x, idx, weights, fused[0], fused[1], act)
        out = out + shared_expert_output(x, shared, act)
        return LayerResult(out, logits, idx, weights, deepseek_margin(logits, bias, choice, group_scores, cfg))
    return forward


def activation(cfg):
    return ACT2FN[cfg["hidden_act"]]


def cross_checked(fused_forward, per_expert_forward):
    """The fused forward, asserting on every input that the per-expert forward of the same weights (before fusing)
    chooses the same experts with the same weights and gives the same output: the fused fixture is the per-expert one
    under transformers v5's conversion."""
    def forward(x):
        fused, per_expert = fused_forward(x), per_expert_forward(x)
        assert torch.equal(fused.topk_indices, per_expert.topk_indices), "fused and per-expert routing disagree"
        assert torch.allclose(fused.topk_weights, per_expert.topk_weights, atol=1e-6, rtol=0), "routing weights differ"
        assert torch.allclose(fused.output, per_expert.output, atol=1e-5, rtol=0), "fused and per-expert outputs differ"
        return fused
    return forward
