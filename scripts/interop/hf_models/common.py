"""What every model-folder fixture shares: the fixture description, random weights stored the way checkpoints store
them, the sharded Hugging Face layout, tie-free inputs, the reference file, and the folder comparison.

The safetensors reader and writer are make_hf_fixtures.py's (one implementation for both scripts). Sharded layout as
transformers' `save_pretrained` writes it (modeling_utils.py, with huggingface_hub's split_torch_state_dict_into_shards):
the state dict is walked in module order (layer by layer; inside a layer in registration order), each shard takes the
tensors that follow the previous one, shard files are `model-00001-of-0000N.safetensors`, and
`model.safetensors.index.json` is `json.dumps({"metadata": {"total_size": bytes}, "weight_map": {key: file}},
indent=2, sort_keys=True) + "\\n"`; a single shard is `model.safetensors` with no index. Every shard carries the
metadata {"format": "pt"}.
"""

import json
import math
import os
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import torch

from .fp8 import quantize
from make_hf_fixtures import NAMES, E4M3Codes, _raw_bytes, dtype_name, load_safetensors, save_safetensors

HIDDEN = 16  # d
TOKENS = 12  # T
EXPERT_WIDTH = 8  # h, every routed expert
MIN_MARGIN = 2e-3  # k-th vs (k+1)-th choice score, every token
INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
REFERENCE_FILE = "reference.safetensors"
SHARD_PATTERN = re.compile(r"^model-(\d{5})-of-(\d{5})\.safetensors$")
# DBRX: transformer.blocks.{i}.; Qwen3.5-MoE: model.language_model.layers.{i}.; Llama 4: language_model.model.layers.{i}.;
# Nemotron-H: backbone.layers.{i}.
LAYER_PATTERN = re.compile(r"^(?:model\.(?:language_model\.)?layers|language_model\.model\.layers|backbone\.layers|transformer\.blocks)\.(\d+)\.")
EXPERT_PATTERN = re.compile(r"\.experts\.(\d+)\.")


def text_config(cfg):
    """The text model's fields: the root of config.json, or its text_config where a multimodal family nests them
    (Qwen3.5-MoE)."""
    return cfg.get("text_config", cfg)


def seed_of(*parts):
    """A seed from names, so that adding a fixture or a layer never changes the numbers of another."""
    return zlib.crc32("/".join(str(p) for p in parts).encode("utf-8"))


def dtype_field(dtype, v5):
    """config.json's dtype entry: Hub checkpoints carry torch_dtype; transformers v5 saves the field as dtype."""
    names = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}
    return {("dtype" if v5 else "torch_dtype"): names[dtype]}


def rounded(t, dtype):
    """The tensor as stored (dtype) and as the float32 forward uses it (the stored values, upcast)."""
    stored = t.to(dtype)
    return stored, stored.to(torch.float32)


class Weights:
    """Random weights, stored under their published keys in the order the model registers them (the state-dict order
    save_pretrained shards by). Each method returns the float32 tensor the forward must use: the stored values, upcast."""

    def __init__(self, seed, dtype, fp8=None):
        self.generator = torch.Generator().manual_seed(seed)
        self.dtype = dtype
        self.fp8 = fp8  # Fp8Storage: which linear weights are stored block-quantized, or None
        self.stored = {}

    def _put(self, key, tensor):
        if key in self.stored:
            raise ValueError(f"'{key}' stored twice")
        self.stored[key] = tensor

    def linear(self, key, out_features, in_features, fan_in=None):
        """nn.Linear(in_features, out_features, bias=False).weight [out, in], std 1/sqrt(fan_in) (default in; DBRX's
        w2 is stored [E·h, d] but multiplies an h-wide activation)."""
        value = torch.randn(out_features, in_features, generator=self.generator) / math.sqrt(fan_in or in_features)
        stored, used = rounded(value, self.dtype)
        if self.fp8 is not None and self.fp8.quantizes(key):
            codes, scale_inv, used = quantize(used, self.fp8.block, self.fp8.scale_dtype)
            self._put(key, codes)
            self._put(key + "_scale_inv", scale_inv)  # FP8Linear registers weight, then weight_scale_inv
            return used
        self._put(key, stored)
        return used

    def norm(self, key, width=HIDDEN):
        """An RMSNorm weight near 1 (never read by the MoE forward; there so a loader must pick the block out)."""
        stored, used = rounded(1.0 + 0.1 * torch.randn(width, generator=self.generator), self.dtype)
        self._put(key, stored)
        return used

    def parameter(self, key, shape, fan_in, dtype=None):
        """A parameter of any shape, std 1/sqrt(fan_in), stored in the weights' dtype or its own (Llama 4's input-major
        experts [E, d, 2h]; Nemotron-H's float32 router weight)."""
        value = torch.randn(*shape, generator=self.generator) / math.sqrt(fan_in)
        stored, used = rounded(value, dtype or self.dtype)
        self._put(key, stored)
        return used

    def stacked(self, key, count, out_features, in_features):
        """count nn.Linear weights stacked [count, out, in] in one parameter (Granite's GraniteMoeParallelExperts),
        std 1/sqrt(in)."""
        value = torch.randn(count, out_features, in_features, generator=self.generator) / math.sqrt(in_features)
        stored, used = rounded(value, self.dtype)
        self._put(key, stored)
        return used

    def packed(self, key, tensor):
        """A tensor stored exactly as given, in its own dtype (gpt-oss's MXFP4 blocks and scales, U8)."""
        self._put(key, tensor)

    def buffer(self, key, shape, std, dtype=torch.float32):
        """A buffer stored in its own dtype whatever the weights' (DeepSeek's e_score_correction_bias is F32)."""
        stored, used = rounded(std * torch.randn(*shape, generator=self.generator), dtype)
        self._put(key, stored)
        return used


class LayerResult(NamedTuple):
    """One MoE layer's forward on one input: what reference.safetensors keeps, and how far the routing is from a tie."""

    output: torch.Tensor  # [T, d]
    router_logits: torch.Tensor  # [T, E], before softmax/sigmoid, including any router bias
    topk_indices: torch.Tensor  # [T, k], the family's order
    topk_weights: torch.Tensor  # [T, k], same order
    margin: float  # smallest gap between a kept and a dropped choice score (or group score)


@dataclass(frozen=True)
class Sharding:
    """Where shards begin. straddle_layer: a MoE layer whose experts are split over two consecutive shards (the first
    half of its experts in one, the rest in the next). new_shard_at_layers: layers whose first tensor begins a shard."""

    straddle_layer: Optional[int] = None
    new_shard_at_layers: Tuple[int, ...] = ()


@dataclass
class Fixture:
    """One model folder. stored: key -> tensor in the model's state-dict order. moe_layers: layer -> forward(x [T, d]
    float32) -> LayerResult, transcribed from the published code. dtype: the storage dtype of the weights."""

    name: str
    config: dict
    stored: Dict[str, torch.Tensor]
    moe_layers: Dict[int, Callable[[torch.Tensor], LayerResult]]
    dense_layers: List[int]
    dtype: torch.dtype
    layout: str
    sources: List[str]
    sharding: Sharding = field(default_factory=Sharding)
    layer_prefix: str = "model.layers."  # DBRX: "transformer.blocks."; Qwen3.5-MoE: "model.language_model.layers."
    norms: Tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")  # the norms every decoder layer stores
    # layer -> the same forward computed in `dtype` (x and weights in dtype, the router in float32 as MoeLayers runs
    # it), kept as layers.L.output_<bf16|f16> and layers.L.topk_indices_<bf16|f16> in reference.safetensors
    native_layers: Dict[int, Callable[[torch.Tensor], LayerResult]] = field(default_factory=dict)
    hidden: int = HIDDEN  # d, the width of the sampled inputs (gpt-oss's MXFP4 fixture: 32, one MXFP4 group)


@dataclass(frozen=True)
class Recipe:
    """What a family module lists in FIXTURES: a folder name and how to build it (run only when it is written)."""

    name: str
    build: Callable[[], Fixture]


# ------------------------------------------------------------------------------------------------------------------
# Sharded writing
# ------------------------------------------------------------------------------------------------------------------


def layer_of(key):
    match = LAYER_PATTERN.match(key)
    return int(match.group(1)) if match else None


def _straddle_start(keys, layer):
    """The first key of the second half of `layer`'s experts: per expert (`experts.{i}.`) the keys of expert E/2,
    fused (one tensor per projection) the middle projection tensor."""
    expert_keys = [k for k in keys if layer_of(k) == layer and ".experts." in k]
    if not expert_keys:
        raise ValueError(f"straddle_layer {layer} has no expert tensors")
    groups = []
    for key in expert_keys:
        match = EXPERT_PATTERN.search(key)
        group = int(match.group(1)) if match else key
        if group not in groups:
            groups.append(group)
    if len(groups) < 2:
        raise ValueError(f"straddle_layer {layer}: one expert tensor cannot straddle two shards")
    middle = groups[len(groups) // 2]
    for key in expert_keys:
        match = EXPERT_PATTERN.search(key)
        if (int(match.group(1)) if match else key) == middle:
            return key
    raise AssertionError("unreachable")


def shard_plan(keys, sharding):
    """key -> 0-based shard, walking `keys` in state-dict order."""
    starts = set()
    for layer in sharding.new_shard_at_layers:
        first = next((k for k in keys if layer_of(k) == layer), None)
        if first is None:
            raise ValueError(f"new_shard_at_layers: layer {layer} has no tensors")
        starts.add(first)
    if sharding.straddle_layer is not None:
        starts.add(_straddle_start(keys, sharding.straddle_layer))
    plan, shard = {}, 0
    for position, key in enumerate(keys):
        if key in starts and position > 0:
            shard += 1
        plan[key] = shard
    if sharding.straddle_layer is not None:
        halves = {plan[k] for k in keys if layer_of(k) == sharding.straddle_layer and ".experts." in k}
        if len(halves) != 2:
            raise ValueError(f"layer {sharding.straddle_layer}'s experts lie in shards {sorted(halves)}, not two")
    return plan


def shard_file_name(shard, count):
    return SINGLE_FILE if count == 1 else f"model-{shard + 1:05d}-of-{count:05d}.safetensors"


def tensor_bytes(t):
    return t.numel() * t.element_size()


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_weights(folder, stored, sharding):
    """The weights as save_pretrained lays them out; returns {file: [keys]}."""
    keys = list(stored)
    plan = shard_plan(keys, sharding)
    count = max(plan.values()) + 1
    files = {}
    for key in keys:
        files.setdefault(shard_file_name(plan[key], count), []).append(key)
    for name, members in files.items():
        save_safetensors(os.path.join(folder, name), {k: stored[k] for k in members}, {"format": "pt"})
    if count > 1:
        index = {"metadata": {"total_size": sum(tensor_bytes(t) for t in stored.values())},
                 "weight_map": {k: shard_file_name(plan[k], count) for k in sorted(keys)}}
        write_json(os.path.join(folder, INDEX_FILE), index)
    return files


# ------------------------------------------------------------------------------------------------------------------
# Inputs and reference
# ------------------------------------------------------------------------------------------------------------------


def sample_input(forward, seed, hidden=HIDDEN, tries=200):
    """Resample x [T, hidden] until every token's kept and dropped choices differ by at least MIN_MARGIN, so any float32
    implementation chooses the same experts."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(tries):
        x = torch.randn(TOKENS, hidden, generator=generator)
        result = forward(x)
        if result.margin >= MIN_MARGIN:
            return x, result
    raise RuntimeError(f"no tie-free input in {tries} tries")


def ascending(indices, weights):
    order = torch.argsort(indices, dim=-1)
    return torch.gather(indices, 1, order), torch.gather(weights.float(), 1, order)


def layer_count(config):
    """num_hidden_layers (DBRX: n_layers; Qwen3.5-MoE: text_config.num_hidden_layers)."""
    config = text_config(config)
    return config["num_hidden_layers"] if "num_hidden_layers" in config else config["n_layers"]


def check_schedule(fixture):
    layers = layer_count(fixture.config)
    moe, dense = sorted(fixture.moe_layers), sorted(fixture.dense_layers)
    if sorted(moe + dense) != list(range(layers)):
        raise ValueError(f"{fixture.name}: MoE layers {moe} and dense layers {dense} do not cover {layers} layers once")
    for layer in range(layers):
        for norm in fixture.norms:
            if f"{fixture.layer_prefix}{layer}.{norm}.weight" not in fixture.stored:
                raise ValueError(f"{fixture.name}: layer {layer} has no {norm}")
    stray = [k for k in fixture.stored if not k.startswith(fixture.layer_prefix) or layer_of(k) is None or layer_of(k) >= layers]
    if stray:
        raise ValueError(f"{fixture.name}: keys outside {fixture.layer_prefix}0..{layers - 1}: {stray}")


def write_fixture(out, fixture):
    """Writes out/<name>/: config.json, the weights, reference.safetensors. Returns lines describing it."""
    check_schedule(fixture)
    folder = os.path.join(out, fixture.name)
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):  # a shard count that changed must not leave old shards behind
        if old.endswith(".safetensors") or old == INDEX_FILE:
            os.remove(os.path.join(folder, old))
    write_json(os.path.join(folder, "config.json"), fixture.config)
    files = write_weights(folder, fixture.stored, fixture.sharding)

    reference, margins = {}, []
    for layer in sorted(fixture.moe_layers):
        x, result = sample_input(fixture.moe_layers[layer], seed_of(fixture.name, "layers", layer, "input"), fixture.hidden)
        indices, weights = ascending(result.topk_indices, result.topk_weights)
        reference[f"layers.{layer}.input"] = x
        reference[f"layers.{layer}.output"] = result.output.detach().float()
        reference[f"layers.{layer}.router_logits"] = result.router_logits.detach().float()
        reference[f"layers.{layer}.topk_indices"] = indices.float()
        reference[f"layers.{layer}.topk_weights"] = weights.detach()
        margins.append(result.margin)
        if layer in fixture.native_layers:
            suffix = NAMES[fixture.dtype].lower()
            native = fixture.native_layers[layer](x.to(fixture.dtype))
            if native.output.dtype != fixture.dtype:
                raise ValueError(f"{fixture.name} layer {layer}: the {suffix} forward returned {native.output.dtype}")
            reference[f"layers.{layer}.output_{suffix}"] = native.output.detach()
            reference[f"layers.{layer}.topk_indices_{suffix}"] = ascending(native.topk_indices, native.topk_weights)[0].float()
    metadata = {
        "family": text_config(fixture.config)["model_type"],
        "source": "; ".join(fixture.sources),
        "moe_layers": ",".join(str(l) for l in sorted(fixture.moe_layers)),
        "dense_layers": ",".join(str(l) for l in sorted(fixture.dense_layers)),
        "layout": fixture.layout,
        "dtype": NAMES[fixture.dtype],
        "tokens": str(TOKENS),
    }
    save_safetensors(os.path.join(folder, REFERENCE_FILE), reference, metadata)
    shards = ", ".join(f"{name} ({len(keys)})" for name, keys in files.items())
    return (f"{fixture.name:18s} MoE {metadata['moe_layers'] or '-':6s} dense {metadata['dense_layers'] or '-':6s} "
            f"{metadata['dtype']:4s} {fixture.layout:10s} {len(fixture.stored):4d} tensors in {shards}; "
            f"min margin {min(margins):.4f}")


# ------------------------------------------------------------------------------------------------------------------
# Folder comparison (--check-folder)
# ------------------------------------------------------------------------------------------------------------------


def _as_reference_writer_writes(path, tensors, metadata):
    """Whether the file is byte for byte what save_safetensors writes for the same tensors and metadata."""
    with tempfile.TemporaryDirectory() as scratch:
        again = os.path.join(scratch, "again.safetensors")
        save_safetensors(again, tensors, metadata)
        with open(path, "rb") as a, open(again, "rb") as b:
            return a.read() == b.read()


def read_folder(folder, notes=None):
    """(tensors {key: tensor}, key -> file, problems) of a model folder's weights, checking the index against the shards
    and every file's layout against the reference writer's; formatting-only deviations go to notes."""
    notes = [] if notes is None else notes
    problems, tensors, location = [], {}, {}
    index_path = os.path.join(folder, INDEX_FILE)
    if os.path.exists(index_path):
        with open(index_path, encoding="utf-8") as f:
            text = f.read()
        index = json.loads(text)
        if set(index) != {"metadata", "weight_map"}:
            problems.append(f"{INDEX_FILE}: top-level keys {sorted(index)}, expected ['metadata', 'weight_map']")
        weight_map = index.get("weight_map", {})
        files = sorted(set(weight_map.values()))
        for name in files:
            match = SHARD_PATTERN.match(name)
            if not match or int(match.group(2)) != len(files):
                problems.append(f"{INDEX_FILE}: shard name '{name}' is not model-0000i-of-{len(files):05d}.safetensors")
        if list(weight_map) != sorted(weight_map):
            problems.append(f"{INDEX_FILE}: weight_map is not sorted by key")
        if os.path.exists(os.path.join(folder, SINGLE_FILE)):
            problems.append(f"both {INDEX_FILE} and {SINGLE_FILE} are present")
    elif os.path.exists(os.path.join(folder, SINGLE_FILE)):
        index, weight_map, files = None, None, [SINGLE_FILE]
    else:
        raise FileNotFoundError(f"{folder}: neither {INDEX_FILE} nor {SINGLE_FILE}")

    for name in files:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            problems.append(f"{name}: listed in {INDEX_FILE} but missing")
            continue
        shard, metadata, layout = load_safetensors(path, check_layout=True)
        problems.extend(f"{name}: {p}" for p in layout)
        if not layout and not _as_reference_writer_writes(path, shard, metadata):
            notes.append(f"{name}: same tensors and layout, but the header JSON is not byte for byte what the "
                         f"reference writer writes (compact, \"__metadata__\" first, keys in data order)")
        if metadata.get("format") != "pt":
            problems.append(f"{name}: metadata {metadata}, expected format 'pt'")
        for key, tensor in shard.items():
            if key in tensors:
                problems.append(f"'{key}' is in both {location[key]} and {name}")
                continue
            tensors[key] = tensor
            location[key] = name
            if weight_map is not None and weight_map.get(key) != name:
                problems.append(f"'{key}' is in {name} but {INDEX_FILE} says {weight_map.get(key)}")
    if weight_map is not None:
        for key in sorted(set(weight_map) - set(tensors)):
            problems.append(f"{INDEX_FILE} lists '{key}' in {weight_map[key]}, which does not hold it")
        total = sum(tensor_bytes(t) for t in tensors.values())
        declared = index.get("metadata", {}).get("total_size")
        if declared != total:
            problems.append(f"{INDEX_FILE}: total_size {declared}, the shards hold {total} bytes")
    if weight_map is None:
        problems.extend(f"stray shard '{n}' beside {SINGLE_FILE}" for n in sorted(os.listdir(folder)) if SHARD_PATTERN.match(n))
    return tensors, location, problems


def check_folder(actual_dir, reference_dir, same_shards=False):
    """Prints OK or each difference between a model folder (written by C#) and a reference fixture folder; returns the
    exit code (0 when identical tensor by tensor, across shards)."""
    notes = []
    try:
        actual, actual_files, failures = read_folder(actual_dir, notes)
        expected, expected_files, reference_problems = read_folder(reference_dir)
    except (OSError, ValueError, KeyError) as error:  # json.JSONDecodeError is a ValueError
        print(f"  FAIL cannot read the folders: {error}")
        return 1
    if reference_problems:
        failures.extend(f"reference: {p}" for p in reference_problems)
    for key in sorted(set(expected) - set(actual)):
        failures.append(f"missing '{key}'")
    for key in sorted(set(actual) - set(expected)):
        failures.append(f"unexpected '{key}'")
    for key in sorted(set(actual) & set(expected)):
        a, e = actual[key], expected[key]
        if dtype_name(a) != dtype_name(e):
            failures.append(f"'{key}': dtype {dtype_name(a)}, reference {dtype_name(e)}")
        elif list(a.shape) != list(e.shape):
            failures.append(f"'{key}': shape {list(a.shape)}, reference {list(e.shape)}")
        elif _raw_bytes(a) != _raw_bytes(e):
            gap = "" if isinstance(a, E4M3Codes) else f" (max |diff| {float((a.float() - e.float()).abs().max()):.3g})"
            failures.append(f"'{key}': values differ{gap}")
    moved = sorted(k for k in set(actual) & set(expected) if actual_files[k] != expected_files[k])
    if moved:
        line = f"{len(moved)} tensor(s) in other shard files than the reference's, e.g. '{moved[0]}' in {actual_files[moved[0]]}, reference {expected_files[moved[0]]}"
        if same_shards:
            failures.append(line)
        else:
            print(f"  note: {line} (allowed without --same-shards)")
    notes += _config_notes(actual_dir, reference_dir)
    for note in notes:
        print(f"  note: {note}")
    print(f"{actual_dir}: {len(actual)} tensors in {len(set(actual_files.values()))} file(s); reference {reference_dir}: "
          f"{len(expected)} in {len(set(expected_files.values()))}")
    for failure in failures:
        print("  FAIL " + failure)
    print("  OK: identical to the reference, tensor by tensor" if not failures else f"  {len(failures)} difference(s)")
    return 0 if not failures else 1


def _config_notes(actual_dir, reference_dir):
    """config.json differences, reported but not failing (a writer may keep other fields)."""
    actual_path, reference_path = (os.path.join(d, "config.json") for d in (actual_dir, reference_dir))
    if not os.path.exists(reference_path):
        return []
    if not os.path.exists(actual_path):
        return ["no config.json in the folder checked"]
    with open(actual_path, encoding="utf-8") as f:
        actual = json.load(f)
    with open(reference_path, encoding="utf-8") as f:
        expected = json.load(f)
    notes = [f"config.json: '{k}' missing" for k in sorted(set(expected) - set(actual))]
    notes += [f"config.json: '{k}' = {actual[k]!r}, reference {expected[k]!r}"
              for k in sorted(set(actual) & set(expected)) if actual[k] != expected[k]]
    return notes
