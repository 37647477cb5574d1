#!/usr/bin/env python3
"""Hugging Face MoE parity fixtures for MoeLayers.Interop (issue 13, part 3).

For each model family this script builds one tiny random sparse-MoE block, runs the block's forward as the published
Hugging Face `transformers` modeling code computes it (transcribed below in plain torch: no `transformers` or
`safetensors` package is needed), and writes under tests/fixtures/hf/<family>/:

  weights.safetensors  the block's tensors under the exact published key names and a realistic layer prefix, plus the
                       two layer norms next to it (so a prefix has to select the block out of a bigger file)
  config.json          the Hugging Face config fields the block reads
  io.safetensors       input [T, d], output [T, d], router_logits [T, E], topk_indices and topk_weights [T, k]
                       (indices ascending per token, weights in the same order; indices stored as F32, exact below 2^24)

Usage (Debian: `apt-get install python3-torch`; use /usr/bin/python3 if another python3 shadows it):
  make_hf_fixtures.py [--out tests/fixtures/hf]         regenerate every fixture (deterministic)
  make_hf_fixtures.py --check-export FILE --reference REF [--prefix P]
                                                        compare a safetensors file written by C# with a reference one,
                                                        tensor by tensor (keys, dtypes, shapes, exact bytes), and check
                                                        FILE's layout the way the reference implementation would.

Sources transcribed (github.com/huggingface/transformers, file @ commit):
  per-expert ("legacy") layout, which is how every one of these checkpoints is published on the Hub:
    Mixtral      src/transformers/models/mixtral/modeling_mixtral.py     @ 00d4b3d2142cb4ced2f51b90614b5d26bc045015
                 (MixtralSparseMoeBlock, MixtralBlockSparseTop2MLP; v4.5x)
    Qwen2-MoE    src/transformers/models/qwen2_moe/modeling_qwen2_moe.py @ 00a3f9386614dde0dc41cf4e9b8d0abd3af0671d
                 (Qwen2MoeSparseMoeBlock with shared_expert and shared_expert_gate)
    Qwen3-MoE    src/transformers/models/qwen3_moe/modeling_qwen3_moe.py @ 16b6c53c8ec3a720bd45c1c377bf94e1d01249c5
                 (Qwen3MoeSparseMoeBlock)
    OLMoE        src/transformers/models/olmoe/modeling_olmoe.py         @ f321adbcdc617db59b4948f9b3b2eb679a57f2dd
                 (OlmoeSparseMoeBlock)
    DeepSeek-V3  src/transformers/models/deepseek_v3/modeling_deepseek_v3.py @ f5a9ec512fa9fe69e51ea0c6388c68d50de567b3
                 and modular_deepseek_v3.py @ dfd9abc2202c0f675992c5aa88874ceb33e0895c
                 (DeepseekV3TopkRouter.get_topk_indices / forward, DeepseekV3MoE.moe / forward)
  fused 3-D expert layout of transformers v5:
    src/transformers/models/mixtral/modeling_mixtral.py @ 44bcb9df5e93cf4f2d49a3f7635b6bd0e07ad9f2 (MixtralExperts,
      MixtralTopKRouter: gate_up_proj [E, 2h, d], down_proj [E, d, h]; forward chunks gate_up into (gate, up))
    src/transformers/conversion_mapping.py @ 44bcb9df... (how v5 builds them from a per-expert checkpoint:
      experts.*.w1 / gate_proj and experts.*.w3 / up_proj each stacked on dim 0 (MergeModulelist(dim=0)), then
      concatenated on dim 1 (Concatenate(dim=1)): gate first, up second; experts.*.w2 / down_proj stacked;
      Mixtral's "block_sparse_moe." becomes "mlp.")
    src/transformers/integrations/moe.py @ 8b584a67b474f3dfdedcdda7acb96a33dcc3b5e3 (the eager reference forward of a
      fused experts module: top_k_pos, token_idx = where(expert_mask[e]); weight top_k_weights[token_idx, top_k_pos];
      _default_apply_gate: gate, up = gate_up_out.chunk(2, dim=-1); act(gate) * up)
  Since transformers PR #42396 (Nov 2025) save_pretrained writes the per-expert Hub layout by default
  (save_original_format=True); fused tensors appear in files saved with save_original_format=False.

All math is float32. Weights of some families are stored as BF16 or F16 (as real checkpoints are) and the reference
forward runs on those values upcast to float32, so the stored tensors are exactly the ones the forward used.
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------------------------
# safetensors: 8-byte little-endian header length N, N bytes of JSON (padded with spaces to a multiple of 8), raw
# little-endian tensor bytes. Written as the reference (Rust) writer does: tensors sorted by dtype (F32, then BF16,
# then F16) and then by name, stored back to back; compact JSON with "__metadata__" first.
# ------------------------------------------------------------------------------------------------------------------

DTYPES = {"F32": (torch.float32, 4), "BF16": (torch.bfloat16, 2), "F16": (torch.float16, 2), "F8_E4M3": (torch.uint8, 1),
          "U8": (torch.uint8, 1)}
NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.uint8: "U8"}
# The Rust writer: by dtype, its enum order descending (F32, BF16, F16, F8_E4M3, U8), then by name.
WRITE_RANK = {"F32": 0, "BF16": 1, "F16": 2, "F8_E4M3": 3, "U8": 4}


class E4M3Codes:
    """An F8_E4M3 (float8_e4m3fn) tensor as torch 1.13, which has no float8 dtype, holds it: its uint8 codes. Stored
    and read under the safetensors dtype name F8_E4M3; what the codes mean is hf_models/fp8.py's business."""

    dtype = "F8_E4M3"

    def __init__(self, codes):
        if codes.dtype != torch.uint8:
            raise TypeError(f"E4M3Codes holds uint8 codes, not {codes.dtype}")
        self.codes = codes

    @property
    def shape(self):
        return self.codes.shape

    def numel(self):
        return self.codes.numel()

    def element_size(self):
        return 1


def dtype_name(t):
    """The safetensors dtype name of a tensor (or of E4M3Codes)."""
    return t.dtype if isinstance(t, E4M3Codes) else NAMES[t.dtype]


def _raw_bytes(t):
    if isinstance(t, E4M3Codes):
        t = t.codes
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(path, tensors, metadata=None):
    assert sys.byteorder == "little"
    items = sorted(tensors.items(), key=lambda kv: (WRITE_RANK[dtype_name(kv[1])], kv[0]))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for key, t in items:
        data = _raw_bytes(t)
        header[key] = {"dtype": dtype_name(t), "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path, check_layout=False):
    """Returns (tensors, metadata, problems): problems lists layout deviations from what the reference writer produces."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the {len(raw) - 8} bytes after it")
    header_bytes = raw[8:8 + n]
    header = json.loads(header_bytes.decode("utf-8"))
    data = raw[8 + n:]
    problems = []
    metadata = header.pop("__metadata__", None) or {}
    tensors, spans = {}, []
    for key, entry in header.items():
        dtype, size = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        count = math.prod(entry["shape"])
        if end - begin != count * size:
            raise ValueError(f"{path}: '{key}' offsets [{begin}, {end}] do not match shape {entry['shape']}")
        if end > len(data):
            raise ValueError(f"{path}: '{key}' offsets reach past the data section")
        buf = bytearray(data[begin:end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16) if count else torch.empty(0, dtype=dtype)
        else:
            t = torch.frombuffer(buf, dtype=dtype) if count else torch.empty(0, dtype=dtype)
        t = t.reshape(entry["shape"]).clone()
        tensors[key] = E4M3Codes(t) if entry["dtype"] == "F8_E4M3" else t
        spans.append((begin, end, key, entry["dtype"]))
    if check_layout:
        if n % 8 != 0:
            problems.append(f"header length {n} is not a multiple of 8")
        if header_bytes.rstrip(b" ") != header_bytes.rstrip():
            problems.append("header padding is not spaces")
        position = 0
        for begin, end, key, _ in sorted(spans):
            if begin != position:
                problems.append(f"'{key}' starts at {begin}, expected {position} (gap or overlap)")
            position = end
        if position != len(data):
            problems.append(f"data section has {len(data) - position} bytes after the last tensor")
        order = [key for _, _, key, _ in sorted(spans)]
        expected = [key for key, _ in sorted(((s[2], s[3]) for s in spans), key=lambda kv: (WRITE_RANK[kv[1]], kv[0]))]
        if order != expected:
            problems.append("tensors are not in the reference writer's order (F32, BF16, F16, F8_E4M3, U8; then by name)")
    return tensors, metadata, problems


# ------------------------------------------------------------------------------------------------------------------
# Published forward passes, transcribed. `w` maps a key relative to the block prefix to its (float32) tensor.
# ------------------------------------------------------------------------------------------------------------------

ACT2FN = {"silu": F.silu}


def swiglu_mlp(x, gate, up, down, act):
    # MixtralBlockSparseTop2MLP.forward: w2(act(w1(x)) * w3(x)); Qwen2MoeMLP / Qwen3MoeMLP / OlmoeMLP /
    # DeepseekV3MLP.forward: down_proj(act(gate_proj(x)) * up_proj(x)).
    return F.linear(act(F.linear(x, gate)) * F.linear(x, up), down)


def softmax_topk_block(hidden_states, router_weight, experts, top_k, norm_topk_prob, act):
    """MixtralSparseMoeBlock.forward (norm always on), Qwen2MoeSparseMoeBlock / Qwen3MoeSparseMoeBlock /
    OlmoeSparseMoeBlock.forward (norm iff config.norm_topk_prob): the routed part, per-expert layout."""
    num_experts = router_weight.shape[0]
    hidden_dim = hidden_states.shape[-1]
    router_logits = F.linear(hidden_states, router_weight)
    routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
    routing_weights, selected_experts = torch.topk(routing_weights, top_k, dim=-1)
    if norm_topk_prob:
        routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
    routing_weights = routing_weights.to(hidden_states.dtype)
    final_hidden_states = torch.zeros_like(hidden_states)
    expert_mask = F.one_hot(selected_experts, num_classes=num_experts).permute(2, 1, 0)
    expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
    for expert_idx in expert_hit:
        e = int(expert_idx)
        idx, top_x = torch.where(expert_mask[e])
        current_state = hidden_states[None, top_x].reshape(-1, hidden_dim)
        gate, up, down = experts[e]
        current_hidden_states = swiglu_mlp(current_state, gate, up, down, act) * routing_weights[top_x, idx, None]
        final_hidden_states.index_add_(0, top_x, current_hidden_states.to(hidden_states.dtype))
    return final_hidden_states, router_logits, selected_experts, routing_weights


def fused_topk_router(hidden_states, router_weight, top_k, norm_topk_prob):
    """MixtralTopKRouter / Qwen2MoeTopKRouter.forward (v5): softmax in float, top-k, optional renormalization."""
    router_logits = F.linear(hidden_states, router_weight)
    probs = F.softmax(router_logits.float(), dim=-1)
    top_value, top_index = torch.topk(probs, top_k, dim=-1)
    if norm_topk_prob:
        top_value /= top_value.sum(dim=-1, keepdim=True)
    return router_logits, top_value, top_index


def fused_experts(hidden_states, top_k_index, top_k_weights, gate_up_proj, down_proj, act):
    """The eager forward of a v5 fused experts module (integrations/moe.py's reference; MixtralExperts.forward)."""
    num_experts = gate_up_proj.shape[0]
    final_hidden_states = torch.zeros_like(hidden_states)
    expert_mask = F.one_hot(top_k_index, num_classes=num_experts).permute(2, 1, 0)
    expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
    for expert_idx in expert_hit:
        e = int(expert_idx[0])
        top_k_pos, token_idx = torch.where(expert_mask[e])
        current_state = hidden_states[token_idx]
        gate, up = F.linear(current_state, gate_up_proj[e]).chunk(2, dim=-1)
        current_hidden_states = act(gate) * up
        current_hidden_states = F.linear(current_hidden_states, down_proj[e])
        current_hidden_states = current_hidden_states * top_k_weights[token_idx, top_k_pos, None]
        final_hidden_states.index_add_(0, token_idx, current_hidden_states.to(final_hidden_states.dtype))
    return final_hidden_states


def deepseek_v3_router(hidden_states, weight, bias, cfg):
    """DeepseekV3TopkRouter.forward + get_topk_indices: sigmoid scores in float32; choice = scores + bias; group score =
    sum of the top-2 choices in each group; keep topk_group groups, the others masked with 0.0 (not -inf); top-k of the
    masked choices; weights are the scores (not the choices) at those experts, divided by their sum + 1e-20 when
    norm_topk_prob, times routed_scaling_factor."""
    n_routed, n_group, topk_group, top_k = cfg["n_routed_experts"], cfg["n_group"], cfg["topk_group"], cfg["num_experts_per_tok"]
    router_logits = F.linear(hidden_states.type(torch.float32), weight.type(torch.float32))
    scores = router_logits.sigmoid()
    scores_for_choice = scores.view(-1, n_routed) + bias.unsqueeze(0)
    group_scores = scores_for_choice.view(-1, n_group, n_routed // n_group).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=topk_group, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores)
    group_mask.scatter_(1, group_idx, 1)
    score_mask = group_mask.unsqueeze(-1).expand(-1, n_group, n_routed // n_group).reshape(-1, n_routed)
    scores_for_choice = scores_for_choice.masked_fill(~score_mask.bool(), 0.0)
    topk_indices = torch.topk(scores_for_choice, k=top_k, dim=-1, sorted=False)[1]
    topk_weights = scores.gather(1, topk_indices)
    if cfg["norm_topk_prob"]:
        denominator = topk_weights.sum(dim=-1, keepdim=True) + 1e-20
        topk_weights /= denominator
    topk_weights = topk_weights * cfg["routed_scaling_factor"]
    return router_logits, topk_indices, topk_weights, scores_for_choice, group_scores


def deepseek_v3_moe(hidden_states, topk_indices, topk_weights, experts, act):
    """DeepseekV3MoE.moe (per-expert layout): loop over experts, weight by topk_weights[token, slot], index_add."""
    final_hidden_states = torch.zeros_like(hidden_states, dtype=topk_weights.dtype)
    expert_mask = F.one_hot(topk_indices, num_classes=len(experts)).permute(2, 0, 1)
    for expert_idx in range(len(experts)):
        token_indices, weight_indices = torch.where(expert_mask[expert_idx])
        if token_indices.numel() > 0:
            gate, up, down = experts[expert_idx]
            expert_weights = topk_weights[token_indices, weight_indices]
            expert_output = swiglu_mlp(hidden_states[token_indices], gate, up, down, act)
            final_hidden_states.index_add_(0, token_indices, expert_output * expert_weights.unsqueeze(-1))
    return final_hidden_states.type(hidden_states.dtype)


# ------------------------------------------------------------------------------------------------------------------
# Families: config, weights under published names, forward.
# ------------------------------------------------------------------------------------------------------------------

D, T = 16, 12


def rand(gen, *shape, std):
    return torch.randn(*shape, generator=gen) * std


def rounded(t, dtype):
    """The tensor as stored (dtype) and as used by the float32 forward (the stored values, upcast)."""
    stored = t.to(dtype)
    return stored, stored.to(torch.float32)


def per_expert_names(style):
    return {"mixtral": ("w1", "w3", "w2")}.get(style, ("gate_proj", "up_proj", "down_proj"))


def build_experts(gen, num_experts, hidden, dtype, names, stored, prefix):
    experts = []
    gate_name, up_name, down_name = names
    for e in range(num_experts):
        triple = []
        for name, shape in ((gate_name, (hidden, D)), (up_name, (hidden, D)), (down_name, (D, hidden))):
            s, used = rounded(rand(gen, *shape, std=1.0 / math.sqrt(shape[1])), dtype)
            stored[f"{prefix}experts.{e}.{name}.weight"] = s
            triple.append(used)
        experts.append(tuple(triple))
    return experts


def layer_norms(gen, stored, layer, dtype):
    # The decoder layer's norms, stored next to the block: a layer prefix must select the block out of them.
    for name in ("input_layernorm", "post_attention_layernorm"):
        stored[f"model.layers.{layer}.{name}.weight"] = (1.0 + rand(gen, D, std=0.1)).to(dtype)


def family_softmax(name, seed):
    """Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE: softmax top-k routing, per-expert SwiGLU experts."""
    gen = torch.Generator().manual_seed(seed)
    E, h = 8, 8
    if name == "mixtral":
        cfg = {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": D, "intermediate_size": h,
               "num_local_experts": E, "num_experts_per_tok": 2, "hidden_act": "silu", "router_jitter_noise": 0.0,
               "num_hidden_layers": 1, "output_router_logits": False, "router_aux_loss_coef": 0.02, "torch_dtype": "bfloat16"}
        prefix, dtype, norm, k = "model.layers.0.block_sparse_moe.", torch.bfloat16, True, 2
    elif name == "qwen2_moe":
        cfg = {"architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "hidden_size": D, "intermediate_size": 32,
               "moe_intermediate_size": h, "shared_expert_intermediate_size": 2 * h, "num_experts": E, "num_experts_per_tok": 2,
               "norm_topk_prob": False, "decoder_sparse_step": 1, "mlp_only_layers": [], "hidden_act": "silu",
               "num_hidden_layers": 1, "output_router_logits": False, "router_aux_loss_coef": 0.001, "torch_dtype": "float32"}
        prefix, dtype, norm, k = "model.layers.0.mlp.", torch.float32, False, 2
    elif name == "qwen3_moe":
        cfg = {"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": D, "intermediate_size": 32,
               "moe_intermediate_size": h, "num_experts": E, "num_experts_per_tok": 2, "norm_topk_prob": True,
               "decoder_sparse_step": 1, "mlp_only_layers": [], "hidden_act": "silu", "num_hidden_layers": 1,
               "output_router_logits": False, "router_aux_loss_coef": 0.001, "torch_dtype": "bfloat16"}
        prefix, dtype, norm, k = "model.layers.0.mlp.", torch.bfloat16, True, 2
    elif name == "olmoe":
        cfg = {"architectures": ["OlmoeForCausalLM"], "model_type": "olmoe", "hidden_size": D, "intermediate_size": h,
               "num_experts": E, "num_experts_per_tok": 3, "norm_topk_prob": False, "hidden_act": "silu",
               "num_hidden_layers": 1, "output_router_logits": False, "router_aux_loss_coef": 0.01, "torch_dtype": "float16"}
        prefix, dtype, norm, k = "model.layers.0.mlp.", torch.float16, False, 3
    else:
        raise ValueError(name)

    stored = {}
    s, router = rounded(rand(gen, E, D, std=1.0 / math.sqrt(D)), dtype)
    stored[prefix + "gate.weight"] = s
    experts = build_experts(gen, E, h, dtype, per_expert_names(name), stored, prefix)
    shared = None
    if name == "qwen2_moe":
        hs = cfg["shared_expert_intermediate_size"]
        parts = []
        for part, shape in (("gate_proj", (hs, D)), ("up_proj", (hs, D)), ("down_proj", (D, hs))):
            s, used = rounded(rand(gen, *shape, std=1.0 / math.sqrt(shape[1])), dtype)
            stored[f"{prefix}shared_expert.{part}.weight"] = s
            parts.append(used)
        s, shared_gate = rounded(rand(gen, 1, D, std=1.0 / math.sqrt(D)), dtype)
        stored[prefix + "shared_expert_gate.weight"] = s
        shared = (tuple(parts), shared_gate)
    layer_norms(gen, stored, 0, dtype)

    act = ACT2FN[cfg["hidden_act"]]

    def forward(x):
        out, logits, idx, weights = softmax_topk_block(x, router, experts, k, norm, act)
        if shared is not None:
            # Qwen2MoeSparseMoeBlock.forward: shared_expert(x) scaled by sigmoid(shared_expert_gate(x)), added.
            (g, u, dn), shared_gate_w = shared
            shared_expert_output = swiglu_mlp(x, g, u, dn, act)
            shared_expert_output = torch.sigmoid(F.linear(x, shared_gate_w)) * shared_expert_output
            out = out + shared_expert_output
        probs = F.softmax(logits, dim=1, dtype=torch.float)
        return out, logits, idx, weights, margin_softmax(probs, k)

    return cfg, prefix, stored, forward, (router, experts, k, norm, act)


def margin_softmax(probs, k):
    # Distance between the k-th and (k+1)-th probability of each token: how far the selection is from a tie.
    top = torch.topk(probs, k + 1, dim=-1)[0]
    return float((top[:, k - 1] - top[:, k]).min())


def family_deepseek_v3(seed):
    gen = torch.Generator().manual_seed(seed)
    E, h, layer = 16, 8, 3
    cfg = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": D, "intermediate_size": 32,
           "moe_intermediate_size": h, "n_routed_experts": E, "n_shared_experts": 1, "num_experts_per_tok": 4, "n_group": 4,
           "topk_group": 2, "routed_scaling_factor": 2.5, "norm_topk_prob": True, "scoring_func": "sigmoid",
           "topk_method": "noaux_tc", "first_k_dense_replace": layer, "moe_layer_freq": 1, "hidden_act": "silu",
           "num_hidden_layers": layer + 1, "torch_dtype": "bfloat16"}
    prefix, dtype = f"model.layers.{layer}.mlp.", torch.bfloat16
    stored = {}
    s, router = rounded(rand(gen, E, D, std=1.0 / math.sqrt(D)), dtype)
    stored[prefix + "gate.weight"] = s
    # The correction bias is a float32 buffer in the published checkpoints, whatever the weights' dtype.
    bias = rand(gen, E, std=0.05)
    stored[prefix + "gate.e_score_correction_bias"] = bias.clone()
    experts = build_experts(gen, E, h, dtype, per_expert_names("deepseek_v3"), stored, prefix)
    hs = h * cfg["n_shared_experts"]
    parts = []
    for part, shape in (("gate_proj", (hs, D)), ("up_proj", (hs, D)), ("down_proj", (D, hs))):
        s, used = rounded(rand(gen, *shape, std=1.0 / math.sqrt(shape[1])), dtype)
        stored[f"{prefix}shared_experts.{part}.weight"] = s
        parts.append(used)
    layer_norms(gen, stored, layer, dtype)
    act = ACT2FN[cfg["hidden_act"]]

    def forward(x):
        logits, idx, weights, choice, group_scores = deepseek_v3_router(x, router, bias, cfg)
        out = deepseek_v3_moe(x, idx, weights, experts, act)
        # DeepseekV3MoE.forward: + shared_experts(residuals), one SwiGLU of width moe_intermediate_size * n_shared_experts.
        out = out + swiglu_mlp(x, *parts, act)
        k, g = cfg["num_experts_per_tok"], cfg["topk_group"]
        top_groups = torch.topk(group_scores, g + 1, dim=-1)[0]
        top_choice = torch.topk(choice, k + 1, dim=-1)[0]
        margin = min(float((top_groups[:, g - 1] - top_groups[:, g]).min()), float((top_choice[:, k - 1] - top_choice[:, k]).min()))
        # Masked experts score exactly 0.0; a kept expert below 0 would tie with them. Keep every choice positive.
        margin = min(margin, float((torch.sigmoid(logits) + bias).min()))
        return out, logits, idx, weights, margin

    return cfg, prefix, stored, forward, None


def fused_from_per_expert(stored, prefix, new_prefix, names, num_experts):
    """conversion_mapping.py (v5): stack each projection over experts (MergeModulelist(dim=0)), concatenate gate and up
    on dim 1 (Concatenate(dim=1)) -> experts.gate_up_proj [E, 2h, d]; experts.down_proj [E, d, h]."""
    gate_name, up_name, down_name = names
    gate = torch.stack([stored[f"{prefix}experts.{e}.{gate_name}.weight"] for e in range(num_experts)], dim=0)
    up = torch.stack([stored[f"{prefix}experts.{e}.{up_name}.weight"] for e in range(num_experts)], dim=0)
    down = torch.stack([stored[f"{prefix}experts.{e}.{down_name}.weight"] for e in range(num_experts)], dim=0)
    fused = {key.replace(prefix, new_prefix): t for key, t in stored.items() if ".experts." not in key}
    fused[new_prefix + "experts.gate_up_proj"] = torch.cat([gate, up], dim=1)
    fused[new_prefix + "experts.down_proj"] = down
    return fused


# ------------------------------------------------------------------------------------------------------------------


def sample_inputs(forward, seed, min_margin=2e-3, tries=200):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(tries):
        x = torch.randn(T, D, generator=gen)
        result = forward(x)
        if result[-1] >= min_margin:
            return x, result
    raise RuntimeError("no tie-free input found")


def write_fixture(out, family, cfg, stored, x, output, logits, idx, weights, source):
    folder = os.path.join(out, family)
    os.makedirs(folder, exist_ok=True)
    save_safetensors(os.path.join(folder, "weights.safetensors"), stored, {"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    order = torch.argsort(idx, dim=-1)
    io = {
        "input": x,
        "output": output.detach(),
        "router_logits": logits.detach().float(),
        "topk_indices": torch.gather(idx, 1, order).float(),
        "topk_weights": torch.gather(weights.float(), 1, order).detach(),
    }
    save_safetensors(os.path.join(folder, "io.safetensors"), io,
                     {"family": family, "generator": "scripts/interop/make_hf_fixtures.py", "source": source})


def generate(out):
    torch.set_num_threads(1)
    sources = {
        "mixtral": "transformers modeling_mixtral.py@00d4b3d2 MixtralSparseMoeBlock",
        "qwen2_moe": "transformers modeling_qwen2_moe.py@00a3f938 Qwen2MoeSparseMoeBlock",
        "qwen3_moe": "transformers modeling_qwen3_moe.py@16b6c53c Qwen3MoeSparseMoeBlock",
        "olmoe": "transformers modeling_olmoe.py@f321adbc OlmoeSparseMoeBlock",
    }
    for i, family in enumerate(["mixtral", "qwen2_moe", "qwen3_moe", "olmoe"]):
        cfg, prefix, stored, forward, parts = family_softmax(family, seed=1000 + i)
        x, (output, logits, idx, weights, margin) = sample_inputs(forward, seed=2000 + i)
        write_fixture(out, family, cfg, stored, x, output, logits, idx, weights, sources[family])
        print(f"{family:14s} {len(stored):3d} tensors, selection margin {margin:.4f}")
        if family == "mixtral":
            # v5 fused layout of the same block: Mixtral's block_sparse_moe. becomes mlp., experts fused.
            fused = fused_from_per_expert(stored, prefix, "model.layers.0.mlp.", per_expert_names("mixtral"), cfg["num_local_experts"])
            router, experts, k, norm, act = parts
            used = {key: t.float() for key, t in fused.items()}  # the stored values, upcast, as for every family
            f_logits, f_weights, f_idx = fused_topk_router(x, used["model.layers.0.mlp.gate.weight"], k, norm)
            f_out = fused_experts(x, f_idx, f_weights, used["model.layers.0.mlp.experts.gate_up_proj"],
                                  used["model.layers.0.mlp.experts.down_proj"], act)
            assert torch.equal(f_idx, idx), "fused and per-expert routing disagree"
            assert torch.allclose(f_out, output, atol=1e-6, rtol=0), "fused and per-expert outputs disagree"
            write_fixture(out, "mixtral_fused", cfg, fused, x, f_out, f_logits, f_idx, f_weights,
                          "transformers modeling_mixtral.py@44bcb9df MixtralExperts + MixtralTopKRouter (v5 fused)")
            print(f"{'mixtral_fused':14s} {len(fused):3d} tensors (same block, v5 layout; output matches per-expert)")
    cfg, prefix, stored, forward, _ = family_deepseek_v3(seed=1010)
    x, (output, logits, idx, weights, margin) = sample_inputs(forward, seed=2010)
    write_fixture(out, "deepseek_v3", cfg, stored, x, output, logits, idx, weights,
                  "transformers modeling_deepseek_v3.py@f5a9ec51 DeepseekV3TopkRouter + DeepseekV3MoE")
    print(f"{'deepseek_v3':14s} {len(stored):3d} tensors, selection margin {margin:.4f}")


def check_export(path, reference, prefix):
    actual, actual_meta, problems = load_safetensors(path, check_layout=True)
    expected, _, _ = load_safetensors(reference)
    if prefix:
        expected = {k: v for k, v in expected.items() if k.startswith(prefix)}
    failures = list(problems)
    for key in sorted(set(expected) - set(actual)):
        failures.append(f"missing '{key}'")
    for key in sorted(set(actual) - set(expected)):
        failures.append(f"unexpected '{key}'")
    for key in sorted(set(actual) & set(expected)):
        a, e = actual[key], expected[key]
        if a.dtype != e.dtype:
            failures.append(f"'{key}': dtype {dtype_name(a)}, reference {dtype_name(e)}")
        elif list(a.shape) != list(e.shape):
            failures.append(f"'{key}': shape {list(a.shape)}, reference {list(e.shape)}")
        elif _raw_bytes(a) != _raw_bytes(e):
            failures.append(f"'{key}': values differ (max |diff| {float((a.float() - e.float()).abs().max()):.3g})")
    print(f"{path}: {len(actual)} tensors, metadata {actual_meta}")
    for f in failures:
        print("  FAIL " + f)
    print("  OK: identical to the reference, tensor by tensor" if not failures else f"  {len(failures)} failure(s)")
    return 0 if not failures else 1


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "fixtures", "hf"))
    parser.add_argument("--check-export", metavar="FILE", help="a safetensors file written by C# to compare")
    parser.add_argument("--reference", metavar="REF", help="the safetensors file FILE should equal")
    parser.add_argument("--prefix", default="", help="compare only the reference's keys under this prefix")
    args = parser.parse_args()
    if args.check_export:
        if not args.reference:
            parser.error("--check-export needs --reference")
        sys.exit(check_export(args.check_export, args.reference, args.prefix))
    generate(os.path.normpath(args.out))


if __name__ == "__main__":
    main()
