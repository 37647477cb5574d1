#!/usr/bin/python3
"""Writes the tiny tokenizer folders of samples/MoeModel's tests and their reference outputs.

For each family (qwen3_moe, olmoe, gpt_oss, glm4_moe, mixtral) this writes
tests/fixtures/moe-models/tokenizers/<family>/ with
  tokenizer.json         in the layout Hugging Face `tokenizers` serializes (model BPE vocab + merges,
                         normalizer / pre_tokenizer / decoder / post_processor as the family's published file
                         has them, added_tokens with the ids fixed by the issue-23 spec),
  tokenizer_config.json  with the family's published chat_template (scripts/moemodel/chat_templates/<family>.jinja),
  special_tokens_map.json where the family ships one,
  config.json / generation_config.json with only model_type, vocab_size and the spec's bos/eos/pad ids,
and beside them
  tokenizers/expected_ids.json      token ids of a set of strings, computed by the BPE encoder below (an
                                    independent reference: it shares no code with the C# side),
  tokenizers/chat_templates.json    conversations rendered by the real Jinja templates through jinja2, the way
                                    transformers' apply_chat_template renders them (trim_blocks, lstrip_blocks,
                                    loopcontrols, raise_exception, strftime_now).

The vocabularies are tiny (512 ids, as the spec fixes): ids 0..255 are GPT-2's byte symbols, 256..495 merges
learned here from samples/TinyShakespeare/data/input.txt, 496..511 special tokens. Mixtral is SentencePiece BPE
with byte fallback: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, 259..511 pieces (with the ▁ metaspace).

Run: /usr/bin/python3 scripts/moemodel/make_tokenizers.py   (needs the `regex` and `jinja2` modules; deterministic)
"""
import json
import os
import unicodedata
from collections import Counter
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.sandbox
import regex

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "moe-models", "tokenizers")
TEMPLATES = os.path.join(os.path.dirname(__file__), "chat_templates")
CORPUS = os.path.join(ROOT, "samples", "TinyShakespeare", "data", "input.txt")
TRAINING_CHARS = 200_000
VOCAB = 512
FIRST_SPECIAL = 496

# Pre-tokenizer patterns as the published tokenizer.json files hold them (HF tokenizers Split(Regex), Isolated);
# cross-checked against ggml-org/llama.cpp src/llama-vocab.cpp (QWEN2, CHATGLM4 = "glm4" for GLM-4.5-Air, GPT4O,
# as of upstream commit ae1a0b1 via the Raudbjorn/ggml-llama.cpp mirror), which quotes the originals.
# Qwen2/Qwen3: Qwen/Qwen3-30B-A3B tokenizer.json (the cl100k shape with single digits).
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
# GLM-4.5: zai-org/GLM-4.5 tokenizer.json (digits in groups of up to three).
GLM_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
# o200k (gpt-oss): tiktoken/tiktoken_ext/openai_public.py o200k_base pat_str, as openai/gpt-oss-20b's tokenizer.json has it.
O200K_PATTERN = "|".join([
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"\s*[\r\n]+",
    r"\s+(?!\S)",
    r"\s+",
])
# GPT-2's pattern, which HF's ByteLevel pre-tokenizer applies when use_regex is true (OLMoE's GPT-NeoX-style file).
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

SPECIALS = {
    "qwen3_moe": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"],
    "olmoe": ["<|endoftext|>", "<|padding|>"],
    "gpt_oss": ["<|endoftext|>", "<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|return|>",
                "<|constrain|>", "<|call|>"],
    "glm4_moe": ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
                 "<|assistant|>", "<|observation|>"],
}
# Qwen3 marks <think>/</think> as added but not special (its tokenizer.json: "special": false).
NOT_SPECIAL = {"<think>", "</think>"}

# The strings whose ids the C# tokenizer must reproduce: unicode, whitespace runs, digits, contractions, specials.
SAMPLE_TEXTS = [
    "Hello world",
    "First Citizen:\nBefore we proceed any further, hear me speak.",
    "  leading and trailing spaces  ",
    "tabs\tand\n\nnewlines\r\n end",
    "numbers 1234567 and 3.14159",
    "I'm sure they'll say we've DONE it, haven't we?",
    "naïve café déjà vu",
    "Ελληνικά και русский текст",
    "中文字符和日本語のテキスト",
    "emoji 🙂👍🏽 and 🚀!",
    "mixed   \t  whitespace    runs",
    "path/to/file.txt // comment",
    "",
]


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table (openai/gpt-2 src/encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def learn_merges(words: Counter, merge_count: int):
    """Classic BPE training: repeatedly merge the most frequent adjacent pair (ties: the smaller pair)."""
    splits = {w: list(w) for w in words}
    merges = []
    for _ in range(merge_count):
        pairs = Counter()
        for w, freq in words.items():
            s = splits[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += freq
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        for w in words:
            splits[w] = merge_pair(splits[w], best)
    return merges


def bpe(symbols, ranks):
    """Applies merges by rank, lowest first, all occurrences of the chosen pair left to right (HF BPE merge_word)."""
    symbols = list(symbols)
    while len(symbols) > 1:
        best, best_rank = None, None
        for pair in zip(symbols, symbols[1:]):
            r = ranks.get(pair)
            if r is not None and (best_rank is None or r < best_rank):
                best, best_rank = pair, r
        if best is None:
            break
        symbols = merge_pair(symbols, best)
    return symbols


def merge_pair(symbols, pair):
    """Every occurrence of the adjacent pair merged into one symbol, left to right."""
    i, out = 0, []
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def split_on_added(text, added):
    """Splits out added tokens (longest first), as HF's AddedVocabulary does before normalization."""
    if not text:
        return []
    if not added:
        return [(text, False)]
    alternation = "|".join(regex.escape(t) for t in sorted(added, key=len, reverse=True))
    parts, last = [], 0
    for m in regex.finditer(alternation, text):
        if m.start() > last:
            parts.append((text[last:m.start()], False))
        parts.append((m.group(0), True))
        last = m.end()
    if last < len(text):
        parts.append((text[last:], False))
    return parts


class ByteLevelReference:
    """The byte-level BPE encoder of Qwen3/OLMoE/gpt-oss/GLM-4.5, written from the HF tokenizers semantics."""

    def __init__(self, pattern, nfc, vocab, merges, added):
        self.pattern, self.nfc, self.vocab, self.added = regex.compile(pattern), nfc, vocab, added
        self.ranks = {pair: i for i, pair in enumerate(merges)}

    def encode(self, text):
        ids = []
        for piece, is_added in split_on_added(text, list(self.added)):
            if is_added:
                ids.append(self.added[piece])
                continue
            if self.nfc:
                piece = unicodedata.normalize("NFC", piece)
            for word in self.pattern.findall(piece):
                symbols = [BYTE_TO_CHAR[b] for b in word.encode("utf-8")]
                ids.extend(self.vocab[s] for s in bpe(symbols, self.ranks))
        return ids


class MetaspaceReference:
    """Mistral's SentencePiece-style BPE in HF form: prepend ▁, spaces to ▁, BPE, byte fallback for unknown chars."""

    def __init__(self, vocab, merges, added, bos_id):
        self.vocab, self.added, self.bos_id = vocab, added, bos_id
        self.ranks = {pair: i for i, pair in enumerate(merges)}

    def encode(self, text, add_special_tokens=True):
        ids = [self.bos_id] if add_special_tokens else []
        for piece, is_added in split_on_added(text, list(self.added)):
            if is_added:
                ids.append(self.added[piece])
                continue
            normalized = "▁" + piece.replace(" ", "▁")
            for symbol in bpe(list(normalized), self.ranks):
                if symbol in self.vocab:
                    ids.append(self.vocab[symbol])
                else:
                    ids.extend(self.vocab["<0x%02X>" % b] for b in symbol.encode("utf-8"))
        return ids


def training_text():
    with open(CORPUS, encoding="utf-8") as f:
        return f.read()[:TRAINING_CHARS]


def byte_level_family(name, pattern, nfc, merges_as_pairs, pre_tokenizer, normalizer, post_processor):
    text = training_text()
    words = Counter("".join(BYTE_TO_CHAR[b] for b in w.encode("utf-8")) for w in regex.findall(pattern, text))
    merges = learn_merges(words, FIRST_SPECIAL - 256)
    assert len(merges) == FIRST_SPECIAL - 256, name
    vocab = {BYTE_TO_CHAR[b]: b for b in range(256)}
    for i, (a, b) in enumerate(merges):
        vocab[a + b] = 256 + i
    specials = SPECIALS[name]
    added = {tok: FIRST_SPECIAL + i for i, tok in enumerate(specials)}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": tok not in NOT_SPECIAL}
            for tok, i in added.items()
        ],
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            "merges": [[a, b] for a, b in merges] if merges_as_pairs else [f"{a} {b}" for a, b in merges],
        },
    }
    reference = ByteLevelReference(pattern, nfc, vocab, merges, added)
    return tokenizer, reference


def split_then_byte_level(pattern):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
    ]}


BYTE_LEVEL_POST = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}


def mixtral_family():
    text = training_text()
    normalized = "▁" + text.replace(" ", "▁")
    # SentencePiece pieces never cross a ▁ word start: learn on the ▁-led words.
    words = Counter(regex.findall(r"▁[^▁]*|[^▁]+", normalized))
    chars = sorted({c for w in words for c in w})
    piece_count = VOCAB - 259
    merges = learn_merges(words, piece_count - len(chars))
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    next_id = 259
    for c in chars:
        vocab[c] = next_id
        next_id += 1
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = next_id
            next_id += 1
    assert next_id <= VOCAB, next_id
    added = {"<unk>": 0, "<s>": 1, "</s>": 2}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": True}
            for tok, i in added.items()
        ],
        # mistralai/Mixtral-8x7B-Instruct-v0.1 tokenizer.json: Prepend ▁, Replace " " -> ▁, no pre-tokenizer.
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        ]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
    return tokenizer, MetaspaceReference(vocab, merges, added, 1)


def added_tokens_decoder(tokenizer):
    return {str(t["id"]): {"content": t["content"], "lstrip": False, "normalized": False, "rstrip": False,
                           "single_word": False, "special": t["special"]} for t in tokenizer["added_tokens"]}


def template(name):
    with open(os.path.join(TEMPLATES, name + ".jinja"), encoding="utf-8") as f:
        return f.read()


def write_json(path, value, one_entry_per_line=False):
    """Writes through a temporary file and a rename, so a failed run never leaves a half-written fixture."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        if one_entry_per_line:
            f.write("[\n" + ",\n".join(json.dumps(v, ensure_ascii=False) for v in value) + "\n]\n")
        else:
            json.dump(value, f, ensure_ascii=False, indent=2)
            f.write("\n")
    os.replace(tmp, path)


FIXED_DATE = datetime(2026, 1, 15)


def render(chat_template, messages, add_generation_prompt, special_tokens, **kwargs):
    """Renders as transformers' apply_chat_template does (utils/chat_template_utils.py _compile_jinja_template)."""
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def strftime_now(fmt):
        return FIXED_DATE.strftime(fmt)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(chat_template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                                 **special_tokens, **kwargs)


CONVERSATIONS = {
    "user": [{"role": "user", "content": "Who art thou?"}],
    "system_user": [{"role": "system", "content": "Speak as a herald."},
                    {"role": "user", "content": "Who art thou?"}],
    "multi_turn": [{"role": "system", "content": "Speak as a herald."},
                   {"role": "user", "content": "Who art thou?"},
                   {"role": "assistant", "content": "A humble servant of the crown."},
                   {"role": "user", "content": "Then speak, naïve herald: 三 things!"}],
    "user_assistant": [{"role": "user", "content": "Who art thou?"},
                       {"role": "assistant", "content": "A humble servant."}],
    "no_system_multi_turn": [{"role": "user", "content": "Hello"},
                             {"role": "assistant", "content": "Hi there"},
                             {"role": "user", "content": "  padded  "}],
}
# Assistant history with reasoning inside <think>: Qwen3 and GLM-4.5 strip it from turns before the last user turn.
THINKING_HISTORY = [{"role": "user", "content": "2+2?"},
                    {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n4"},
                    {"role": "user", "content": "3+3?"},
                    {"role": "assistant", "content": "<think>\nadd again\n</think>\n\n6"}]


def chat_cases(family, chat_template, special_tokens):
    cases = []

    def add(conversation, messages, generation, options):
        cases.append({
            "family": family, "conversation": conversation, "messages": messages,
            "add_generation_prompt": generation, "options": options,
            "expected": render(chat_template, messages, generation, special_tokens, **options),
        })

    for name, messages in CONVERSATIONS.items():
        ends_with_assistant = messages[-1]["role"] == "assistant"
        add(name, messages, not ends_with_assistant, {})
    if family in ("qwen3_moe", "glm4_moe"):
        add("user", CONVERSATIONS["user"], True, {"enable_thinking": False})
        add("multi_turn", CONVERSATIONS["multi_turn"], True, {"enable_thinking": False})
        add("thinking_history", THINKING_HISTORY, False, {})
        add("thinking_history_prompt", THINKING_HISTORY[:3], True, {})
    if family == "gpt_oss":
        add("system_user", CONVERSATIONS["system_user"], True, {"reasoning_effort": "high"})
        add("user", CONVERSATIONS["user"], True, {"model_identity": "You are a herald."})
    return cases


def main():
    families = {
        "qwen3_moe": byte_level_family("qwen3_moe", QWEN_PATTERN, True, False, split_then_byte_level(QWEN_PATTERN),
                                       {"type": "NFC"}, BYTE_LEVEL_POST),
        "olmoe": byte_level_family("olmoe", GPT2_PATTERN, True, False,
                                   {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                    "use_regex": True},
                                   {"type": "NFC"},
                                   {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                    "use_regex": True}),
        "gpt_oss": byte_level_family("gpt_oss", O200K_PATTERN, False, True, split_then_byte_level(O200K_PATTERN),
                                     None, BYTE_LEVEL_POST),
        "glm4_moe": byte_level_family("glm4_moe", GLM_PATTERN, False, True, split_then_byte_level(GLM_PATTERN),
                                      None, BYTE_LEVEL_POST),
        "mixtral": mixtral_family(),
    }
    # tokenizer_config.json special-token strings, as each family's published file sets them.
    configs = {
        "qwen3_moe": {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                      "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 131072},
        "olmoe": {"bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|padding|>",
                  "tokenizer_class": "GPTNeoXTokenizer", "model_max_length": 4096},
        # The published gpt-oss file's bos is <|startoftext|>, which the spec's 512-id vocabulary leaves out.
        "gpt_oss": {"bos_token": None, "eos_token": "<|return|>", "pad_token": "<|endoftext|>",
                    "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1000000000000000019884624838656},
        "glm4_moe": {"bos_token": None, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                     "tokenizer_class": "PreTrainedTokenizer", "model_max_length": 128000},
        "mixtral": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
                    "tokenizer_class": "LlamaTokenizer", "model_max_length": 1000000000000000019884624838656,
                    "add_bos_token": True, "add_eos_token": False},
    }
    # config.json / generation_config.json token ids as the issue-23 spec fixes them (the model folders the decoder
    # helper writes carry the same values); only the fields the tokenizer reads.
    model_ids = {
        "qwen3_moe": ({"bos_token_id": 496, "eos_token_id": 498}, {"bos_token_id": 496, "eos_token_id": [498, 496]}),
        "olmoe": ({"bos_token_id": None, "eos_token_id": 496, "pad_token_id": 497}, {"eos_token_id": 496,
                                                                                      "pad_token_id": 497}),
        "gpt_oss": ({"eos_token_id": 501, "pad_token_id": 496}, {"eos_token_id": [501, 496, 503], "pad_token_id": 496}),
        "glm4_moe": ({"eos_token_id": [496, 503, 505], "pad_token_id": 496}, {"eos_token_id": [496, 503, 505],
                                                                              "pad_token_id": 496}),
        "mixtral": ({"bos_token_id": 1, "eos_token_id": 2}, {"bos_token_id": 1, "eos_token_id": 2}),
    }
    expected_ids = []
    chat = []
    for family, (tokenizer, reference) in families.items():
        folder = os.path.join(OUT, family)
        os.makedirs(folder, exist_ok=True)
        write_json(os.path.join(folder, "tokenizer.json"), tokenizer)
        config_ids, generation_ids = model_ids[family]
        write_json(os.path.join(folder, "config.json"), {"model_type": family, "vocab_size": VOCAB, **config_ids})
        write_json(os.path.join(folder, "generation_config.json"), generation_ids)
        chat_template = template(family)
        config = dict(configs[family])
        config["added_tokens_decoder"] = added_tokens_decoder(tokenizer)
        config["clean_up_tokenization_spaces"] = False
        config["chat_template"] = chat_template
        write_json(os.path.join(folder, "tokenizer_config.json"), config)
        special_map = {k: v for k, v in configs[family].items() if k.endswith("_token") and v is not None}
        if family in ("mixtral", "olmoe", "gpt_oss", "glm4_moe"):
            write_json(os.path.join(folder, "special_tokens_map.json"), special_map)
        specials = {k: (v if v is not None else "") for k, v in special_map.items()}
        specials.setdefault("bos_token", "")
        chat.extend(chat_cases(family, chat_template, specials))

        texts = list(SAMPLE_TEXTS)
        texts += {
            "qwen3_moe": ["<|im_start|>user\nHi<|im_end|>\n", "<think>\nhmm\n</think>\n\nyes"],
            "olmoe": ["Hello<|endoftext|>World<|padding|>"],
            "gpt_oss": ["<|start|>user<|message|>Hi<|end|><|start|>assistant", "CamelCaseWords and HTTPServer's"],
            "glm4_moe": ["[gMASK]<sop><|user|>\nHi<|assistant|>", "digits 1234567890"],
            "mixtral": ["<s> [INST] Hi [/INST] Hello</s>", "ünïcödé ✓"],
        }[family]
        for text in texts:
            entry = {"family": family, "text": text}
            if family == "mixtral":
                entry["ids"] = reference.encode(text, add_special_tokens=True)
                entry["ids_without_special_tokens"] = reference.encode(text, add_special_tokens=False)
            else:
                # None of the byte-level post-processors add tokens: with and without special tokens agree.
                entry["ids"] = reference.encode(text)
                entry["ids_without_special_tokens"] = entry["ids"]
            expected_ids.append(entry)
    write_json(os.path.join(OUT, "expected_ids.json"), expected_ids, one_entry_per_line=True)
    write_json(os.path.join(OUT, "chat_templates.json"), {"current_date": FIXED_DATE.strftime("%Y-%m-%d"),
                                                          "cases": chat})
    print(f"wrote {len(families)} tokenizer folders, {len(expected_ids)} id cases, {len(chat)} chat cases to {OUT}")


if __name__ == "__main__":
    main()
