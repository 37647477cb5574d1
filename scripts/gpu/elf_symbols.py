#!/usr/bin/env python3
"""Which dynamic symbols a shared library needs that a set of libraries does not define, and when each one binds.

Used by first-run.sh to tell, before anything is loaded, whether TorchSharp's libLibTorchSharp.so (built for libtorch
2.10) can run on the libtorch that PyTorch ships on the GPU machine. Reads ELF files directly (no binutils needed):

* needed: the library's undefined, non-weak dynamic symbols;
* defined: the global and weak dynamic symbols of the libraries in its lookup scope: its DT_NEEDED libraries and
  theirs, found as the dynamic loader finds them (DT_RPATH, LD_LIBRARY_PATH and --search directories, DT_RUNPATH with
  $ORIGIN, the system directories), plus any --extra file (a library the process loads with RTLD_GLOBAL);
* each missing symbol is classified by its relocations: a symbol reached only through R_X86_64_JUMP_SLOT (a PLT call)
  binds lazily, at its first call, and a missing one kills the process there with "symbol lookup error"; any other
  relocation (GLOB_DAT, 64, TPOFF, DTPMOD, COPY: vtables _ZTV, typeinfo _ZTI, TLS wrappers _ZTH, data) binds when the
  library loads, so a missing one makes the load itself fail. The two lists differ, and a filter on _ZN names alone
  misses most of the load-time ones. A symbol no relocation refers to is never bound (only its version must exist).

Usage: elf_symbols.py NEEDER [--search DIR...] [--extra FILE...] [--report FILE]
Exit status: 0 when every symbol that binds is defined, 1 when one is not, 2 on a read error.
"""
import argparse
import mmap
import os
import re
import shutil
import struct
import subprocess
import sys

SHT_RELA, SHT_DYNSYM, SHT_DYNAMIC = 4, 11, 6
STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 1, 2, 10
DT_NEEDED, DT_RPATH, DT_RUNPATH = 1, 15, 29
X86_64_RELOCATIONS = {
    1: "R_X86_64_64", 5: "R_X86_64_COPY", 6: "R_X86_64_GLOB_DAT", 7: "R_X86_64_JUMP_SLOT", 16: "R_X86_64_DTPMOD64",
    17: "R_X86_64_DTPOFF64", 18: "R_X86_64_TPOFF64", 37: "R_X86_64_IRELATIVE",
}
LAZY = "R_X86_64_JUMP_SLOT"
OLD_FILTER = re.compile(r"^_ZN?K?(2at|3c10|5torch|6caffe2)")
SYSTEM_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]


class Elf:
    """The dynamic symbols, relocations and DT_NEEDED entries of one little-endian ELF64 file."""

    def __init__(self, path):
        self.path = path
        # Mapped, not read: libtorch_cuda.so is over a gigabyte, and only its headers and symbol tables are needed.
        with open(path, "rb") as f:
            self.data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            raise ValueError(f"{path}: not a little-endian ELF64 file")
        (self.shoff,) = struct.unpack_from("<Q", d, 0x28)
        self.shentsize, self.shnum = struct.unpack_from("<HH", d, 0x3A)
        self.sections = [self._section(i) for i in range(self.shnum)]

    def _section(self, index):
        fields = struct.unpack_from("<IIQQQQIIQQ", self.data, self.shoff + index * self.shentsize)
        keys = ("name", "type", "flags", "addr", "offset", "size", "link", "info", "addralign", "entsize")
        return dict(zip(keys, fields))

    def _string(self, table, offset):
        start = table["offset"] + offset
        end = self.data.find(b"\0", start)
        return self.data[start:end].decode("utf-8", "replace")

    def dynamic_symbols(self):
        """[(name, binding, defined)] of .dynsym, index order (index 0 is the null symbol)."""
        for section in self.sections:
            if section["type"] != SHT_DYNSYM:
                continue
            strings = self.sections[section["link"]]
            symbols = []
            for i in range(section["size"] // 24):
                name, info, _other, shndx, _value, _size = struct.unpack_from("<IBBHQQ", self.data, section["offset"] + 24 * i)
                symbols.append((self._string(strings, name), info >> 4, shndx != 0))
            return symbols
        return []

    def relocations(self):
        """{symbol index: set of relocation type names} over every RELA section that refers to .dynsym."""
        kinds = {}
        for section in self.sections:
            if section["type"] != SHT_RELA or section["entsize"] == 0:
                continue
            for i in range(section["size"] // 24):
                _offset, info, _addend = struct.unpack_from("<QQq", self.data, section["offset"] + 24 * i)
                symbol, kind = info >> 32, info & 0xFFFFFFFF
                if symbol:
                    kinds.setdefault(symbol, set()).add(X86_64_RELOCATIONS.get(kind, f"type {kind}"))
        return kinds

    def dynamic_entries(self):
        """[(tag, value as string or int)] of the DT_NEEDED, DT_RPATH and DT_RUNPATH entries."""
        for section in self.sections:
            if section["type"] != SHT_DYNAMIC:
                continue
            strings = self.sections[section["link"]]
            entries = []
            for i in range(section["size"] // 16):
                tag, value = struct.unpack_from("<qQ", self.data, section["offset"] + 16 * i)
                if tag in (DT_NEEDED, DT_RPATH, DT_RUNPATH):
                    entries.append((tag, self._string(strings, value)))
            return entries
        return []

    def needed(self):
        return [value for tag, value in self.dynamic_entries() if tag == DT_NEEDED]

    def paths(self, tag):
        origin = os.path.dirname(os.path.abspath(self.path))
        return [p.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
                for value in (v for t, v in self.dynamic_entries() if t == tag) for p in value.split(":") if p]


def defined_names(elf):
    return {name for name, binding, defined in elf.dynamic_symbols()
            if defined and name and binding in (STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE)}


def resolve(name, parent, search):
    """Where the dynamic loader would find DT_NEEDED entry `name` of `parent`, or None."""
    runpath = parent.paths(DT_RUNPATH)
    directories = ([] if runpath else parent.paths(DT_RPATH)) + search + runpath + SYSTEM_DIRS
    for directory in directories:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def lookup_scope(needer, search, lines):
    """The needer's DT_NEEDED closure, breadth first, as the loader searches it; unresolved names are reported."""
    scope, seen, queue = [], {os.path.basename(needer.path)}, [needer]
    while queue:
        parent = queue.pop(0)
        for name in parent.needed():
            if name in seen:
                continue
            seen.add(name)
            path = resolve(name, parent, search)
            if path is None:
                lines.append(f"warning: {name} (needed by {os.path.basename(parent.path)}) not found; its symbols count as missing")
                continue
            try:
                library = Elf(path)
            except (OSError, ValueError) as error:
                lines.append(f"warning: cannot read {path}: {error}")
                continue
            scope.append(library)
            queue.append(library)
    return scope


def demangle(names):
    tool = shutil.which("c++filt")
    if not tool or not names:
        return {}
    try:
        result = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True, timeout=60, check=True)
        return dict(zip(names, result.stdout.splitlines()))
    except (OSError, subprocess.SubprocessError):
        return {}


def analyse(needer_path, search, extra):
    """Returns (lines of the report, number of missing symbols that bind)."""
    needer = Elf(needer_path)
    symbols = needer.dynamic_symbols()
    relocations = needer.relocations()
    needed = {}
    weak_undefined = 0
    for index, (name, binding, defined) in enumerate(symbols):
        if not name or defined:
            continue
        if binding == STB_WEAK:
            weak_undefined += 1
            continue
        needed.setdefault(name, set()).update(relocations.get(index, set()))

    lines = [f"needer: {needer_path}",
             f"undefined symbols: {len(needed)} strong, {weak_undefined} weak (weak ones may stay unresolved)"]
    scope = lookup_scope(needer, search, lines)
    for path in extra:
        try:
            scope.append(Elf(path))
        except (OSError, ValueError) as error:
            lines.append(f"warning: cannot read {path}: {error}")
    defined = set()
    others = 0
    for library in scope:
        names = defined_names(library)
        defined |= names
        if os.path.basename(library.path).startswith(("libtorch", "libc10")):
            lines.append(f"provider: {library.path} ({len(names)} defined)")
        else:
            others += 1
    lines.append(f"providers besides libtorch*/libc10*: {others} libraries of the lookup scope")

    missing = sorted(set(needed) - defined)
    unbound = [name for name in missing if not needed[name]]
    load_time = [name for name in missing if needed[name] - {LAZY}]
    lazy = [name for name in missing if needed[name] == {LAZY}]
    readable = demangle(missing)
    lines.append(f"missing: {len(missing)} of {len(needed)} (bound at load: {len(load_time)}, bound at first call: {len(lazy)}, "
                 f"never bound: {len(unbound)})")
    old_filter = [name for name in load_time + lazy if OLD_FILTER.match(name)]
    lines.append(f"of the {len(load_time) + len(lazy)} that bind, a filter of _ZN torch names alone (the previous run.sh) lists "
                 f"{len(old_filter)}, {len([n for n in load_time if OLD_FILTER.match(n)])} of the {len(load_time)} bound at load")
    groups = (("bound at load: the load itself fails", load_time),
              ("bound at first call: 'symbol lookup error' at that call, unless LD_BIND_NOW=1 names it at load", lazy),
              ("no relocation refers to it: never bound (only its symbol version must exist)", unbound))
    for title, group in groups:
        if group:
            lines.append(f"== {title}")
            for name in group:
                kinds = ",".join(sorted(needed[name])) or "no relocation"
                pretty = readable.get(name, "")
                lines.append(f"  {name}  [{kinds}]" + (f"  {pretty}" if pretty and pretty != name else ""))
    return lines, len(load_time) + len(lazy)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("needer")
    parser.add_argument("--search", nargs="*", default=[], help="directories searched like LD_LIBRARY_PATH (e.g. torch/lib)")
    parser.add_argument("--extra", nargs="*", default=[], help="libraries in the global scope (loaded RTLD_GLOBAL)")
    parser.add_argument("--report", help="also write the report to this file")
    args = parser.parse_args()
    try:
        lines, missing = analyse(args.needer, args.search, args.extra)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(text)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
