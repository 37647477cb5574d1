#!/usr/bin/env bash
# The measured fine-tuning example of samples/MoeModel/README.md ("Fine-tuning"): LoRA against full fine-tuning on the
# bundled tiny-shakespeare text, on the bundled tiny qwen3_moe folder and on a wider random qwen3_moe folder that `init`
# writes (d = 512, 8 layers, 32 experts: a size where optimizer state shows), each case run three times, interleaved; then
# `merge` writes each LoRA run's merged folder and checks that it reloads to the adapted model's logits. Prints a table
# of the summaries. About 9 minutes on 2 cores.
#
# Usage: scripts/moemodel/finetune-example.sh [output folder, default /tmp/moemodel-finetune]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-/tmp/moemodel-finetune}
run() { dotnet run -c Release --project samples/MoeModel --no-build -- "$@"; }

dotnet build samples/MoeModel -c Release -v q -nologo
rm -rf "$OUT"
mkdir -p "$OUT"
run init --output "$OUT/wide" --set hidden_size=512 --set num_hidden_layers=8 --set max_window_layers=8 --set num_experts=32 \
    --set moe_intermediate_size=256 --set intermediate_size=1024 --set num_attention_heads=8 --set num_key_value_heads=4 --set head_dim=64
for round in 1 2 3; do
    for method in lora full; do
        if [ "$method" = lora ]; then tiny_lr=1e-2; wide_lr=1e-3; else tiny_lr=3e-3; wide_lr=1e-4; fi
        run finetune --output "$OUT/tiny-$method-$round" --method "$method" --steps 200 --lr "$tiny_lr" --log-every 100
        run finetune "$OUT/wide" --output "$OUT/wide-$method-$round" --method "$method" --steps 30 --warmup 3 --lr "$wide_lr" \
            --checkpoint-every 10 --log-every 10
    done
done
run merge --adapters "$OUT/tiny-lora-1/adapters" --output "$OUT/tiny-merged"
run merge "$OUT/wide" --adapters "$OUT/wide-lora-1/adapters" --output "$OUT/wide-merged"

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def size(path):
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)
print("| model | method | trained parameters | saved | perplexity before → after | median step wall / CPU (s) | tokens/s | peak memory (MiB) |")
print("|---|---|---|---|---|---|---|---|")
for model in ("tiny", "wide"):
    for rnd in (1, 2, 3):
        for method in ("lora", "full"):
            run = os.path.join(out, f"{model}-{method}-{rnd}")
            s = json.load(open(os.path.join(run, "summary.json")))
            saved = os.path.join(run, "adapters" if method == "lora" else "model")
            share = 100.0 * s["TrainedParameters"] / s["ModelParameters"]
            print(f"| {model} (round {rnd}) | {method} | {s['TrainedParameters']:,} of {s['ModelParameters']:,} ({share:.2f}%) | "
                  f"{size(saved) / 2**20:.2f} MiB ({'adapters' if method == 'lora' else 'model folder'}) | "
                  f"{s['PerplexityBefore']:.1f} → {s['PerplexityAfter']:.1f} | {s['MedianStepSeconds']:.3f} / {s['MedianCpuSeconds']:.3f} | "
                  f"{s['MedianTokensPerSecond']:.0f} | {s['PeakMemoryBytes'] / 2**20:.0f} |")
PY
