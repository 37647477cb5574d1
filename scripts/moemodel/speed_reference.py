"""PyTorch side of `MoeLayers.Samples.MoeModel bench`: prefill and decode tokens/s of the transcribed transformers
forward (reference_model.ReferenceModel, the per-expert loop of transformers' Qwen3MoeSparseMoeBlock) on random
weights of the config the C# side measured, float32, in the same run.

    /usr/bin/python3 scripts/moemodel/speed_reference.py --config CONFIG.json [--prompt-tokens 128]
        [--decode-tokens 16] [--rounds 3] [--threads 2]

Prints one JSON line: prefill_tokens_per_s and decode_tokens_per_s (medians over rounds), torch version, threads and
the BLAS it loaded (benchmarks/pytorch/moe_cpu.py's report: without libopenblas0-pthread Debian's torch runs the
reference BLAS, 5-15x slower). Like transformers' generate (logits_to_keep = 1), the prefill computes the head on the last
position only.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (HERE, os.path.join(HERE, "..", "interop"), os.path.join(HERE, "..", "..", "benchmarks", "pytorch")):
    if path not in sys.path:
        sys.path.insert(0, path)

import torch  # noqa: E402

from blas_report import blas_report  # noqa: E402
from reference_model import ReferenceModel  # noqa: E402


def random_weights(cfg):
    """Every tensor of a qwen3_moe checkpoint of this config, normal(0, 0.02) (norms 1)."""
    d, hd = cfg["hidden_size"], cfg["head_dim"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    E, h = cfg["num_experts"], cfg["moe_intermediate_size"]
    g = torch.Generator().manual_seed(7)

    def normal(*shape):
        return torch.empty(*shape).normal_(0, 0.02, generator=g)

    w = {"model.embed_tokens.weight": normal(cfg["vocab_size"], d), "model.norm.weight": torch.ones(d),
         "lm_head.weight": normal(cfg["vocab_size"], d)}
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        w[p + "input_layernorm.weight"] = torch.ones(d)
        w[p + "post_attention_layernorm.weight"] = torch.ones(d)
        w[p + "self_attn.q_proj.weight"] = normal(heads * hd, d)
        w[p + "self_attn.k_proj.weight"] = normal(kv * hd, d)
        w[p + "self_attn.v_proj.weight"] = normal(kv * hd, d)
        w[p + "self_attn.o_proj.weight"] = normal(d, heads * hd)
        w[p + "self_attn.q_norm.weight"] = torch.ones(hd)
        w[p + "self_attn.k_norm.weight"] = torch.ones(hd)
        w[p + "mlp.gate.weight"] = normal(E, d)
        for e in range(E):
            for name, shape in (("gate_proj", (h, d)), ("up_proj", (h, d)), ("down_proj", (d, h))):
                w[f"{p}mlp.experts.{e}.{name}.weight"] = normal(*shape)
    return w


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--decode-tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    if cfg["model_type"] != "qwen3_moe":
        raise SystemExit(f"{args.config}: model_type must be qwen3_moe; got {cfg['model_type']}")
    torch.set_num_threads(args.threads)
    model = ReferenceModel(cfg, random_weights(cfg))
    g = torch.Generator().manual_seed(11)
    prefill, decode = [], []
    with torch.no_grad():
        for _ in range(args.rounds):
            ids = torch.randint(0, cfg["vocab_size"], (1, args.prompt_tokens), generator=g)
            cache = {}
            start = time.perf_counter()
            logits = model.forward(ids, cache, 0, last_only=True)
            prefill.append(args.prompt_tokens / (time.perf_counter() - start))
            position = args.prompt_tokens
            start = time.perf_counter()
            for _ in range(args.decode_tokens):
                token = logits[:, -1].argmax(-1, keepdim=True)
                logits = model.forward(token, cache, position, last_only=True)
                position += 1
            decode.append(args.decode_tokens / (time.perf_counter() - start))
    blas = blas_report()[1]
    print(json.dumps({"prefill_tokens_per_s": statistics.median(prefill), "decode_tokens_per_s": statistics.median(decode),
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas}))


if __name__ == "__main__":
    main()
