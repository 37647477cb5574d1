"""An independent reader of the written folders (make_hf_models.py --verify): from config.json and the weights alone,
recomputes every MoE layer token by token in float64 with none of the transcribed code, and compares it with
reference.safetensors the way a C# float32 implementation is held to it (1e-5). It reads the folder the way a consumer
must: the schedule from the config, the experts across shards, per-expert or fused tensors, FP8 block-quantized weights
decoded from their bits."""

import json
import os

import torch

from make_hf_fixtures import E4M3Codes, load_safetensors
from quantization_reference import e4m3fn_value, mxfp4_by_hand

from .common import REFERENCE_FILE, read_folder, text_config

TOLERANCE = 1e-5
PREFIX = {"mixtral": "block_sparse_moe.", "jamba": "feed_forward.", "dbrx": "ffn.", "minimax_m2": "block_sparse_moe.",
          "granitemoe": "block_sparse_moe.", "granitemoeshared": "block_sparse_moe.", "llama4_text": "feed_forward.",
          "nemotron_h": "mixer."}
DENSE_PREFIX = {"jamba": "feed_forward.", "llama4_text": "feed_forward."}
DENSE_WIDTH = {"llama4_text": "intermediate_size_mlp"}
# By the text model's model_type, except Llama 4, whose prefix depends on the root's (the text model saved alone by
# Llama4ForCausalLM, or inside Llama4ForConditionalGeneration).
LAYER_PREFIX = {"dbrx": "transformer.blocks.", "qwen3_5_moe_text": "model.language_model.layers.", "llama4": "language_model.model.layers.",
                "nemotron_h": "backbone.layers."}
ROUTER = {"jamba": "router.weight", "dbrx": "router.layer.weight", "hunyuan_v1_moe": "gate.wg.weight",
          "granitemoe": "router.layer.weight", "granitemoeshared": "router.layer.weight", "gpt_oss": "router.weight",
          "llama4_text": "router.weight"}
ROUTER_BIAS = {"gpt_oss": "router.bias"}  # added to the logits
EXPERT_COUNT = {"mixtral": "num_local_experts", "deepseek_v3": "n_routed_experts", "kimi_k2": "n_routed_experts",
                "glm4_moe": "n_routed_experts", "dots1": "n_routed_experts", "minimax_m2": "num_local_experts",
                "gpt_oss": "num_local_experts", "llama4_text": "num_local_experts", "nemotron_h": "n_routed_experts"}
PROJECTIONS = {"mixtral": ("w1", "w3", "w2"), "minimax_m2": ("w1", "w3", "w2")}
BALANCE_BIAS = {"minimax_m2": "e_score_correction_bias", "ernie4_5_moe": "moe_statics.e_score_correction_bias"}
SHARED = {"deepseek_v3": "shared_experts.", "kimi_k2": "shared_experts.", "glm4_moe": "shared_experts.",
          "dots1": "shared_experts.", "hunyuan_v1_moe": "shared_mlp.", "llama4_text": "shared_expert."}
# DeepseekV3MoE and its copies: sigmoid + correction bias, group-limited, / (sum + 1e-20), x routed_scaling_factor.
DEEPSEEK_ROUTING = ("deepseek_v3", "kimi_k2", "glm4_moe", "dots1", "nemotron_h")
# Nemotron-H's hybrid_override_pattern: one character per layer, 'E' the MoE block, '-' a dense MLP.
NEMOTRON_H_BLOCKS = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}


def one_value(value):
    """Hunyuan's num_experts / moe_topk: an integer or a per-layer list holding one value."""
    if isinstance(value, list):
        assert len(set(value)) == 1, f"per-layer values differ: {value}"
        return value[0]
    return value


def layers_of(cfg):
    if cfg["model_type"] == "nemotron_h":
        return len(cfg["hybrid_override_pattern"])
    return cfg["n_layers"] if cfg["model_type"] == "dbrx" else cfg["num_hidden_layers"]


def experts_of(cfg):
    if cfg["model_type"] == "dbrx":
        return cfg["ffn_config"]["moe_num_experts"]
    return one_value(cfg[EXPERT_COUNT.get(cfg["model_type"], "num_experts")])


def top_k_of(cfg):
    if cfg["model_type"] == "dbrx":
        return cfg["ffn_config"]["moe_top_k"]
    if cfg["model_type"] == "ernie4_5_moe":
        return cfg["moe_k"]
    return one_value(cfg["moe_topk"]) if cfg["model_type"] == "hunyuan_v1_moe" else cfg["num_experts_per_tok"]


def schedule(cfg):
    layers = range(layers_of(cfg))
    if cfg["model_type"] == "jamba":
        return [i for i in layers if cfg["num_experts"] > 1 and i % cfg["expert_layer_period"] == cfg["expert_layer_offset"]]
    if cfg["model_type"] == "nemotron_h":
        return [i for i in layers if NEMOTRON_H_BLOCKS[cfg["hybrid_override_pattern"][i]] == "moe"]
    if cfg["model_type"] == "llama4_text":
        if cfg.get("moe_layers") is not None:
            return [i for i in layers if i in cfg["moe_layers"]]
        return [i for i in layers if (i + 1) % cfg["interleave_moe_layer_step"] == 0]
    if cfg["model_type"] in ("qwen2_moe", "qwen3_moe", "qwen3_next"):
        return [i for i in layers if i not in cfg["mlp_only_layers"] and (i + 1) % cfg["decoder_sparse_step"] == 0]
    if cfg["model_type"] in DEEPSEEK_ROUTING:
        return [i for i in layers if i >= cfg["first_k_dense_replace"]]
    if cfg["model_type"] == "ernie4_5_moe":
        end = cfg["num_hidden_layers"] - 1 if cfg["moe_layer_end_index"] == -1 else cfg["moe_layer_end_index"]
        return [i for i in layers if (i + 1) % cfg["moe_layer_interval"] == 0 and cfg["moe_layer_start_index"] <= i <= end]
    return list(layers)


def silu(v):
    return v * torch.sigmoid(v)


def mlp(x, gate, up, down):
    if gate is None:  # Nemotron-H: ungated, relu(up x)^2
        return down @ torch.relu(up @ x) ** 2
    return down @ (silu(gate @ x) * (up @ x))


def gpt_oss_expert(x, weights, prefix, e, cfg):
    """gpt-oss: x·W + b with W = gate_up_proj[e] [d, 2h] whose even columns are the gate and odd ones the up projection;
    gate clamped above at the limit, up to ±limit; (up + 1) · gate · σ(1.702 · gate), then ·down_proj[e] [h, d] + b."""
    gate_up = x @ weights[prefix + "experts.gate_up_proj"][e] + weights[prefix + "experts.gate_up_proj_bias"][e]
    limit = cfg.get("swiglu_limit", 7.0)
    gate = torch.clamp(gate_up[0::2], max=limit)
    up = torch.clamp(gate_up[1::2], min=-limit, max=limit)
    hidden = (up + 1) * gate * torch.sigmoid(1.702 * gate)
    return hidden @ weights[prefix + "experts.down_proj"][e] + weights[prefix + "experts.down_proj_bias"][e]


def mxfp4_dequantized(weights, cfg):
    """An MXFP4 folder's X_blocks / X_scales pairs replaced by X, decoded from the format's definition and transposed
    to the [E, in, out] parameter gpt-oss computes with; other folders unchanged."""
    if cfg.get("quantization_config", {}).get("quant_method") != "mxfp4":
        return weights
    result = {k: v for k, v in weights.items() if not (k.endswith("_blocks") or k.endswith("_scales"))}
    for key in (k[:-len("_blocks")] for k in weights if k.endswith("_blocks")):
        result[key] = mxfp4_by_hand(weights[key + "_blocks"], weights[key + "_scales"]).transpose(1, 2)
    return result


def halves(gate_up):
    half = gate_up.shape[0] // 2
    return gate_up[:half], gate_up[half:]


def expert(weights, prefix, e, family, cfg):
    if family == "dbrx":  # [E·h, d] each; expert e's rows e·h .. (e+1)·h; w2 is applied as x @ w2, so down = w2ᵀ
        h = cfg["ffn_config"]["ffn_hidden_size"]
        w1, v1, w2 = (weights[f"{prefix}experts.mlp.{p}"][e * h:(e + 1) * h] for p in ("w1", "v1", "w2"))
        return w1, v1, w2.t()
    if prefix + "input_linear.weight" in weights:  # Granite: [E, 2h, d], gate rows first
        return (*halves(weights[prefix + "input_linear.weight"][e]), weights[prefix + "output_linear.weight"][e])
    if family == "llama4_text":  # input-major: gate_up [d, 2h] per expert (gate columns first), down [h, d]
        gate_up, down = weights[prefix + "experts.gate_up_proj"][e], weights[prefix + "experts.down_proj"][e]
        h = gate_up.shape[1] // 2
        return gate_up[:, :h].t(), gate_up[:, h:].t(), down.t()
    if family == "nemotron_h":
        return None, weights[f"{prefix}experts.{e}.up_proj.weight"], weights[f"{prefix}experts.{e}.down_proj.weight"]
    if prefix + "experts.gate_up_proj" in weights:
        gate_up, down = weights[prefix + "experts.gate_up_proj"][e], weights[prefix + "experts.down_proj"][e]
        half = gate_up.shape[0] // 2
        return gate_up[:half], gate_up[half:], down
    g, u, d = PROJECTIONS.get(family, ("gate_proj", "up_proj", "down_proj"))
    return tuple(weights[f"{prefix}experts.{e}.{p}.weight"] for p in (g, u, d))


def route(cfg, logits, bias):
    """(chosen experts ascending, their weights) for one token."""
    family, k = cfg["model_type"], top_k_of(cfg)
    if family == "minimax_m2":
        scores = torch.sigmoid(logits)
        chosen = sorted(sorted(range(len(scores)), key=lambda e: -float(scores[e] + bias[e]))[:k])
        w = scores[chosen]
        return chosen, w / w.sum()
    if family == "llama4_text":  # top-k of the logits, each weighted by sigmoid(logit)
        chosen = sorted(sorted(range(len(logits)), key=lambda e: -float(logits[e]))[:k])
        return chosen, torch.sigmoid(logits[chosen])
    if family in ("granitemoe", "granitemoeshared", "gpt_oss"):  # top-k of the logits, softmax over the k
        chosen = sorted(sorted(range(len(logits)), key=lambda e: -float(logits[e]))[:k])
        return chosen, torch.softmax(logits[chosen], dim=0)
    if family == "ernie4_5_moe":  # chosen by p + bias, weighted by p / max(sum, moe_norm_min)
        probs = torch.softmax(logits, dim=0)
        choice = probs + bias.reshape(-1)
        chosen = sorted(sorted(range(len(probs)), key=lambda e: -float(choice[e]))[:k])
        w = probs[chosen]
        return chosen, w / max(float(w.sum()), cfg["moe_norm_min"])
    if family in DEEPSEEK_ROUTING:
        scores = torch.sigmoid(logits)
        choice = scores + bias
        size = len(choice) // cfg["n_group"]
        groups = [sorted(choice[g * size:(g + 1) * size].tolist(), reverse=True) for g in range(cfg["n_group"])]
        group_score = [g[0] + g[1] for g in groups]
        kept = sorted(range(len(groups)), key=lambda g: -group_score[g])[:cfg["topk_group"]]
        candidates = [e for e in range(len(choice)) if e // size in kept]
        chosen = sorted(sorted(candidates, key=lambda e: -float(choice[e]))[:k])
        w = scores[chosen]
        if cfg["norm_topk_prob"]:
            w = w / (w.sum() + 1e-20)
        return chosen, w * cfg["routed_scaling_factor"]
    probs = torch.softmax(logits, dim=0)
    chosen = sorted(sorted(range(len(probs)), key=lambda e: -float(probs[e]))[:k])
    w = probs[chosen]
    if family in ("mixtral", "hunyuan_v1_moe", "qwen3_5_moe_text") or cfg.get("norm_topk_prob", False):
        w = w / w.sum()
    if family == "dbrx" and cfg["ffn_config"]["moe_normalize_expert_weights"] is not None:
        w = w / w.abs().pow(cfg["ffn_config"]["moe_normalize_expert_weights"]).sum() ** (1 / cfg["ffn_config"]["moe_normalize_expert_weights"])
    return chosen, w


def fp8_dequantized(cfg, weights):
    """(float64 weights, problems): F8_E4M3 weights decoded from their bits by quantization_reference.e4m3fn_value
    and multiplied element by element by weight_scale_inv[i // br, j // bc] ([br, bc] = quantization_config.
    weight_block_size), the scales dropped; and whether exactly the projections (…_proj.weight) are quantized, as in
    the FP8 releases, each with a scale of the block grid's shape."""
    quantized = {k for k, t in weights.items() if isinstance(t, E4M3Codes)}
    q = cfg.get("quantization_config")
    if q is None:
        return {k: t.double() for k, t in weights.items()}, [f"'{k}' is F8_E4M3 but config.json has no quantization_config" for k in sorted(quantized)]
    problems = [] if q.get("quant_method") == "fp8" else [f"quantization_config.quant_method {q.get('quant_method')}, expected fp8"]
    br, bc = q.get("weight_block_size", [128, 128])
    values = torch.tensor([e4m3fn_value(c) for c in range(256)], dtype=torch.float64)
    result = {}
    for key, t in weights.items():
        if key.endswith("_scale_inv") and key[:-len("_scale_inv")] in quantized:
            continue
        if key.endswith("_proj.weight") != (key in quantized):
            problems.append(f"'{key}' is {'' if key in quantized else 'not '}F8_E4M3; the FP8 releases quantize exactly the projections")
        if key not in quantized:
            result[key] = t.double()
            continue
        scale = weights.get(key + "_scale_inv")
        rows, cols = t.shape
        grid = [-(-rows // br), -(-cols // bc)]
        if scale is None or list(scale.shape) != grid:
            problems.append(f"'{key}_scale_inv' missing or not {grid}")
            continue
        rows_block, cols_block = torch.arange(rows) // br, torch.arange(cols) // bc
        result[key] = values[t.codes.long()] * scale.double()[rows_block][:, cols_block]
    return result, problems


def verify(folder):
    """Problems found in one fixture folder (empty when it holds)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        root = json.load(f)
    cfg = text_config(root)
    weights, _, problems = read_folder(folder)
    if cfg.get("quantization_config", {}).get("quant_method") == "mxfp4":
        weights = {k: v.double() for k, v in mxfp4_dequantized(weights, cfg).items()}
    else:
        weights, quantization_problems = fp8_dequantized(cfg, weights)
        problems += quantization_problems
    reference, metadata, layout = load_safetensors(os.path.join(folder, REFERENCE_FILE), check_layout=True)
    problems += [f"{REFERENCE_FILE}: {p}" for p in layout]
    family = cfg["model_type"]
    moe_layers = schedule(cfg)
    dense_layers = [l for l in range(layers_of(cfg)) if l not in moe_layers]
    if metadata.get("family") != family:
        problems.append(f"metadata family {metadata.get('family')}, config model_type {family}")
    if metadata.get("moe_layers") != ",".join(map(str, moe_layers)) or metadata.get("dense_layers") != ",".join(map(str, dense_layers)):
        problems.append(f"metadata layers {metadata.get('moe_layers')} / {metadata.get('dense_layers')}, "
                        f"config schedule {moe_layers} / {dense_layers}")
    layers_prefix = LAYER_PREFIX.get(root["model_type"], LAYER_PREFIX.get(family, "model.layers."))
    for layer in dense_layers:
        width = cfg[DENSE_WIDTH.get(family, "intermediate_size")]
        projections = (("gate_proj", [width, cfg["hidden_size"]]), ("up_proj", [width, cfg["hidden_size"]]),
                       ("down_proj", [cfg["hidden_size"], width]))
        if family == "nemotron_h":  # only an MLP layer ('-') has one: ungated, under the mixer
            if NEMOTRON_H_BLOCKS[cfg["hybrid_override_pattern"][layer]] != "mlp":
                continue
            projections, prefix = projections[1:], "mixer."
        else:
            prefix = DENSE_PREFIX.get(family, "mlp.")
        for p, shape in projections:
            key = f"{layers_prefix}{layer}.{prefix}{p}.weight"
            if key not in weights or list(weights[key].shape) != shape:
                problems.append(f"dense layer {layer}: {key} missing or not {shape}")
    for layer in moe_layers:
        layer_prefix = f"{layers_prefix}{layer}."
        prefix = layer_prefix + PREFIX.get(family, "mlp.")
        if not any(k.startswith(prefix) for k in weights):
            prefix = f"model.layers.{layer}.mlp."  # the v5 name of a block published as block_sparse_moe
        x_all = reference[f"layers.{layer}.input"].double()
        bias = weights.get(prefix + BALANCE_BIAS.get(family, "gate.e_score_correction_bias"))
        for t in range(x_all.shape[0]):
            x = x_all[t]
            logits = weights[prefix + ROUTER.get(family, "gate.weight")] @ x
            if family in ROUTER_BIAS:
                logits = logits + weights[prefix + ROUTER_BIAS[family]]
            chosen, w = route(cfg, logits, bias)
            if family == "gpt_oss":
                out = sum(wi * gpt_oss_expert(x, weights, prefix, e, cfg) for e, wi in zip(chosen, w))
            elif family == "llama4_text":  # the weight scales the expert's input
                out = sum(mlp(wi * x, *expert(weights, prefix, e, family, cfg)) for e, wi in zip(chosen, w))
            else:
                out = sum(wi * mlp(x, *expert(weights, prefix, e, family, cfg)) for e, wi in zip(chosen, w))
            if family in ("qwen2_moe", "qwen3_next", "qwen3_5_moe_text"):
                shared = mlp(x, *(weights[f"{prefix}shared_expert.{p}.weight"] for p in ("gate_proj", "up_proj", "down_proj")))
                out = out + torch.sigmoid(weights[prefix + "shared_expert_gate.weight"] @ x) * shared
            if family == "nemotron_h":
                out = out + mlp(x, None, *(weights[f"{prefix}shared_experts.{p}.weight"] for p in ("up_proj", "down_proj")))
            if family in SHARED or (family == "ernie4_5_moe" and cfg["moe_num_shared_experts"] > 0):
                shared_prefix = SHARED.get(family, "shared_experts.")
                out = out + mlp(x, *(weights[f"{prefix}{shared_prefix}{p}.weight"] for p in ("gate_proj", "up_proj", "down_proj")))
            if family == "granitemoeshared" and cfg["shared_intermediate_size"] > 0:  # beside the block, on the same input
                shared = layer_prefix + "shared_mlp."
                out = out + mlp(x, *halves(weights[shared + "input_linear.weight"]), weights[shared + "output_linear.weight"])
            checks = (("router_logits", logits), ("topk_weights", w), ("output", out))
            for name, value in checks:
                diff = float((reference[f"layers.{layer}.{name}"][t].double() - value).abs().max())
                if diff > TOLERANCE:
                    problems.append(f"layer {layer} token {t}: {name} differs by {diff:.3g}")
            if reference[f"layers.{layer}.topk_indices"][t].tolist() != [float(e) for e in chosen]:
                problems.append(f"layer {layer} token {t}: experts {chosen}, reference "
                                f"{reference[f'layers.{layer}.topk_indices'][t].tolist()}")
    return problems
