#!/usr/bin/env python3
"""Hugging Face model folders as fixtures for MoeLayers.Interop: the MoE (and dense) layers of small multi-layer
checkpoints, sharded as save_pretrained shards them, with a reference forward per MoE layer.

For each fixture listed by a module in hf_models/families/ (one module per model_type, found automatically), writes
tests/fixtures/hf-models/<name>/:

  config.json                 the Hugging Face config (published field names; pretty, sorted keys)
  model.safetensors           the weights, or model-0000i-of-0000N.safetensors + model.safetensors.index.json
  reference.safetensors       per MoE layer L: layers.L.input, .output, .router_logits, .topk_indices, .topk_weights

(scripts/interop/README.md describes the format exactly.) No transformers or safetensors package is needed; torch 1.13.

Usage (/usr/bin/python3: Debian's python3-torch):
  make_hf_models.py [--out tests/fixtures/hf-models] [--only NAME ...] [--verify]
                                                                         write the fixtures (deterministic); --verify
                                                                         re-reads each folder independently
  make_hf_models.py --check-folder DIR --reference REF [--same-shards]   compare a model folder written by C# with a
                                                                         reference folder tensor by tensor
"""

import argparse
import importlib
import os
import pkgutil
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts: a run leaves `git status` clean
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from hf_models import families  # noqa: E402
from hf_models.common import check_folder, write_fixture  # noqa: E402
from hf_models.verify import verify  # noqa: E402


def discover():
    """Every Recipe in every hf_models/families/<module>.FIXTURES, in module-name order; names must be unique."""
    recipes = {}
    for module_info in sorted(pkgutil.iter_modules(families.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"hf_models.families.{module_info.name}")
        for recipe in getattr(module, "FIXTURES", []):
            if recipe.name in recipes:
                raise ValueError(f"fixture '{recipe.name}' is listed twice (second time in {module_info.name}.py)")
            recipes[recipe.name] = recipe
    return recipes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "..", "tests", "fixtures", "hf-models"))
    parser.add_argument("--only", metavar="NAME", action="append", help="write only this fixture (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the fixtures and exit")
    parser.add_argument("--verify", action="store_true",
                        help="after writing, re-read every folder written and recompute its MoE layers independently")
    parser.add_argument("--check-folder", metavar="DIR", help="a model folder written by C# to compare")
    parser.add_argument("--reference", metavar="REF", help="the fixture folder DIR should equal")
    parser.add_argument("--same-shards", action="store_true",
                        help="with --check-folder: also require every tensor in the same shard file as the reference")
    args = parser.parse_args()
    if args.check_folder:
        if not args.reference:
            parser.error("--check-folder needs --reference")
        sys.exit(check_folder(args.check_folder, args.reference, args.same_shards))

    recipes = discover()
    if args.list:
        print("\n".join(recipes))
        return
    unknown = sorted(set(args.only or []) - set(recipes))
    if unknown:
        parser.error(f"unknown fixture(s) {unknown}; known: {sorted(recipes)}")
    torch.set_num_threads(1)
    out = os.path.normpath(args.out)
    for name, recipe in recipes.items():
        if args.only and name not in args.only:
            continue
        fixture = recipe.build()
        if fixture.name != name:
            raise ValueError(f"recipe '{name}' built a fixture named '{fixture.name}'")
        print(write_fixture(out, fixture))
        if args.verify:
            problems = verify(os.path.join(out, name))
            for problem in problems:
                print(f"  VERIFY FAIL {problem}")
            if problems:
                sys.exit(1)
            print(f"  verified: an independent float64 reading of the folder matches reference.safetensors within 1e-5")


if __name__ == "__main__":
    main()
