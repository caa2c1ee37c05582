#!/usr/bin/python3
"""gen_bpe_ref.py - golden token ids for tests/unit/test_bpe.c, and the
Unicode/HTML tables of common/bpe_tables.h.

    /usr/bin/python3 tests/gen_bpe_ref.py            -> tests/fixtures/bpe/golden.jsonl
    /usr/bin/python3 tests/gen_bpe_ref.py --tables   -> common/bpe_tables.h

Golden ids: an independent implementation, written from the published
description of OpenAI CLIP's SimpleTokenizer (clip/simple_tokenizer.py), with
nothing but the standard library.  CLIP's own cleaning functions are used
unchanged where the standard library has them (html.unescape twice,
re.sub(r'\\s+', ' ') + strip, str.lower); the parts that need the third-party
`regex` module or are CLIP's own code are re-derived here:
  - the pre-tokeniser pattern
        <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+
    (IGNORECASE) is a hand-written left-to-right scanner over
    unicodedata.category (L* = letter, N* = number), trying the alternatives
    in order like a backtracking engine does;
  - byte -> unicode mapping, vocabulary order and BPE (repeatedly merge every
    occurrence of the lowest-ranked adjacent pair) on plain lists.
ftfy.fix_text is not available here; both this script and the C code skip it.
Each case carries "ftfy_neutral": false when the input is one ftfy would
probably change (not NFC, curly quotes, ligatures, full-width forms, control
or tag characters), i.e. where the real CLIP may give other ids.

Output, one JSON object per line (UTF-8, not ASCII-escaped):
    {"text": ..., "ids": [bpe ids, no SOT/EOT], "ctx": [77 ids of
     clip.tokenize(text, truncate=True)], "fits": bool (no truncation needed),
     "decoded": decode(ids), "ftfy_neutral": bool, "group": ...}

Tables (--tables): written from this interpreter's unicodedata/str methods
(Python 3.11: Unicode 14.0.0, the same version as PCRE2 10.42) and its html
module; they are data, reviewed as such.
"""
import gzip
import html
import html.entities
import json
import os
import random
import re
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = os.path.join(ROOT, "data", "clip", "bpe_simple_vocab_16e6.txt.gz")
SOT, EOT, CONTEXT = 49406, 49407, 77

# ------------------------------------------------------------------ tokenizer


def byte_symbols():
    """byte value -> one-character string; printable Latin-1 maps to itself,
    the other 68 bytes to chr(256 + n) in byte order.  Also returns the byte
    order in which the 256 symbols enter the vocabulary."""
    keep = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    sym, n = {}, 0
    for b in keep:
        sym[b] = chr(b)
    for b in range(256):
        if b not in sym:
            sym[b] = chr(256 + n)
            n += 1
    order = keep + [b for b in range(256) if b not in keep]
    return sym, order


class Ref:
    def __init__(self, path):
        rows = gzip.open(path).read().decode("utf-8").split("\n")
        merges = [tuple(r.split()) for r in rows[1:1 + 49152 - 256 - 2]]
        self.sym, order = byte_symbols()
        self.unsym = {v: k for k, v in self.sym.items()}
        names = [self.sym[b] for b in order]
        names += [s + "</w>" for s in names]
        names += [a + b for a, b in merges]
        names += ["<|startoftext|>", "<|endoftext|>"]
        assert len(names) == 49408
        self.id = {}
        for i, s in enumerate(names):
            self.id[s] = i
        self.name = names
        self.rank = {}
        for i, m in enumerate(merges):
            self.rank[m] = i

    def bpe(self, sym):
        """sym: list of one-character strings; returns the merged symbols."""
        w = list(sym[:-1]) + [sym[-1] + "</w>"]
        while len(w) > 1:
            best, br = None, None
            for p in zip(w, w[1:]):
                r = self.rank.get(p)
                if r is not None and (br is None or r < br):
                    best, br = p, r
            if best is None:
                break
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w = out
        return w

    def encode(self, text):
        text = html.unescape(html.unescape(text)).strip()
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for tok in pretokenize(text):
            if tok in ("<|startoftext|>", "<|endoftext|>"):
                ids.append(self.id[tok])
                continue
            sym = [self.sym[b] for b in tok.encode("utf-8")]
            ids += [self.id[s] for s in self.bpe(sym)]
        return ids

    def decode(self, ids):
        s = "".join(self.name[i] for i in ids)
        return bytes(self.unsym[c] for c in s).decode("utf-8", errors="replace").replace("</w>", " ")

    def tokenize(self, text):
        t = [SOT] + self.encode(text) + [EOT]
        fits = len(t) <= CONTEXT
        if not fits:
            t = t[:CONTEXT]
            t[-1] = EOT
        return t + [0] * (CONTEXT - len(t)), fits


# regex's \s for str patterns: the Unicode White_Space property.
WHITE_SPACE = set(map(chr, [9, 10, 11, 12, 13, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
                      + list(range(0x2000, 0x200B))))
# Case-insensitive equality for the pattern's literal letters (simple case
# folding; after lower() only U+017F LONG S is a second spelling, of "s").
FOLD = {"\u017f": "s"}


def ci_startswith(text, i, lit):
    if i + len(lit) > len(text):
        return False
    for k, p in enumerate(lit):
        c = text[i + k]
        if c != p and c.lower() != p and FOLD.get(c) != p:
            return False
    return True


def is_l(c):
    return unicodedata.category(c)[0] == "L"


def is_n(c):
    return unicodedata.category(c)[0] == "N"


def pretokenize(text):
    out, i, n = [], 0, len(text)
    alts = ["<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
    while i < n:
        lit = next((a for a in alts if ci_startswith(text, i, a)), None)
        if lit:
            out.append(text[i:i + len(lit)])
            i += len(lit)
        elif is_l(text[i]):
            j = i
            while j < n and is_l(text[j]):
                j += 1
            out.append(text[i:j])
            i = j
        elif is_n(text[i]):
            out.append(text[i])
            i += 1
        elif text[i] not in WHITE_SPACE:
            j = i
            while j < n and not (text[j] in WHITE_SPACE or is_l(text[j]) or is_n(text[j])):
                j += 1
            out.append(text[i:j])
            i = j
        else:
            i += 1
    return out


# ------------------------------------------------------------------ cases

WORDS10 = ["apple", "bird", "car", "cat", "chair", "dog", "fish", "flower", "house", "tree"]
OPT_T = ["a {}", "a drawing of a {}", "a sketch of a {}", "a simple {}", "a {} drawing"]
CLIPASSO_T = ["a {}", "a sketch of a {}", "a drawing of a {}", "a simple drawing of a {}",
              "a black and white sketch of a {}"]
ZS_T = ["{}", "a sketch of a {}", "a line drawing of a {}", "a simple doodle of a {}", "an outline of a {}"]

HAND = {
    "facts": ["a diagram", "a dog", "a cat"],
    "punct": ["hello, world!", "what?!?", "...", "a-b_c", "e-mail: x@y.org", "(parens) [brackets] {braces}",
              "50% off!!!", "C++ & C#", "path/to/file.txt", "~!@#$%^&*()_+`-=", "\"quoted\" 'single'",
              "end.", "a.b.c", "<b>bold</b>", "<|startoftext|>", "<|endoftext|>",
              "x<|endoftext|>y", "!<|endoftext|>", "<|startoftext|> a dog <|endoftext|>", "<|STARTOFTEXT|>",
              "<|startoftext", "|>", "a||b", "#hashtag @mention"],
    "digits": ["0", "123", "3.14159", "1,000,000", "2024-01-31", "x2", "mp3", "a1b2c3", "99 bottles",
               "\u0663\u0664 arabic-indic digits", "\u00bd and \u00b2", "\u2160\u2161 roman", "\u0968\u0966"],
    "contractions": ["don't", "it's", "we're", "they've", "i'm", "you'll", "he'd", "DON'T", "IT'S",
                     "'s", "'t", "''s", "x's's", "rock'n'roll", "o'clock", "'hello'", "can't won't", "ma'am",
                     "y'all'd've", "'ll'", "it\u017f ok? it'\u017f"],
    "accents": ["caf\u00e9", "na\u00efve r\u00e9sum\u00e9", "\u00fcber", "stra\u00dfe", "fa\u00e7ade",
                "CAF\u00c9 \u00dcBER", "\u0141\u00f3d\u017a", "\u00e5ngstr\u00f6m", "se\u00f1or", "\u00c6sir",
                "\u0130stanbul", "d\u00e9j\u00e0 vu", "\u0152uvre"],
    "scripts": ["\u03b1\u03b2\u03b3 \u03b4\u03b5\u03b6", "\u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u0399\u0391",
                "\u03a3", "\u0391\u03a3.", "\u0391\u03a3\u0391", "\u03c3\u03b5\u03bb\u03ae\u03bd\u03b7",
                "\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\u041f\u0420\u0418\u0412\u0415\u0422",
                "\u0441\u043e\u0431\u0430\u043a\u0430", "\u732b", "\u72d7\u3068\u732b", "\u4e2d\u6587\u5b57\u7b26",
                "\u3053\u3093\u306b\u3061\u306f", "\u30ab\u30bf\u30ab\u30ca", "\ud55c\uad6d\uc5b4",
                "\u0645\u0631\u062d\u0628\u0627", "\u0643\u0644\u0628 \u0642\u0637\u0629",
                "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0915\u0941\u0924\u094d\u0924\u093e",
                "\u05e9\u05dc\u05d5\u05dd", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u10d2\u10d0\u10db\u10d0",
                "mixed \u732b cat \u0441\u043e\u0431\u0430\u043a\u0430 dog"],
    "emoji": ["\U0001f600", "\U0001f436 dog", "\U0001f408\U0001f415", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
              "\U0001f44d\U0001f3fd", "\U0001f44b\U0001f3ff hi", "\u2764\ufe0f", "\U0001f1eb\U0001f1f7",
              "\U0001f3f3\ufe0f\u200d\U0001f308", "a\U0001f41fb", "\u2603 snowman", "\u2605\u2606",
              "\U0001f9d1\U0001f3fb\u200d\U0001f4bb coder"],
    "entities": ["&amp;", "&lt;tag&gt;", "&quot;hi&quot;", "&#39;s", "&#x27;t", "fish &amp; chips",
                 "&amp;lt;", "&amp;amp;amp;", "&copy; 2024", "&eacute;t&eacute;", "&nbsp;a&nbsp;b",
                 "&#65;&#x42;&#X43;", "&#128512;", "&#x1F600;", "&#0;", "&#128;", "&#x80;", "&#150;",
                 "&#xD800;", "&#1114112;", "&#99999999999999999999;", "&#1;", "&#x7f;", "&#xFFFE;",
                 "&ampfoo", "&amp", "&notit;", "&noti", "&AMP;", "&unknown;", "& amp;", "&;", "&#;", "&#x;",
                 "&#xg;", "&", "&&", "&lt", "a&ltb", "&Alpha;&alpha;", "&CounterClockwiseContourIntegral;",
                 "&NotNestedGreaterGreater;", "&fjlig;", "&#32;&#9;x", "&#10;&#10;", "&#12354;",
                 "&amp;#39;", "&amp;#x263a;", "&lt;|endoftext|&gt;", "&Auml;&auml;", "&szlig;&SZLIG;"],
    "space": ["  leading", "trailing  ", "a  b", "a\tb", "a\nb", "a\r\nb", "\t\n tabs \n\t",
              "a\u00a0b", "a\u2003b", "a\u3000b", "a\u2028b", "a\u0085b", "a\x1cb", "a\u180eb",
              "a\u200bb", "   ", "", "\n", "one two  three   four    five"],
    "upper": ["A DOG", "Hello World", "THE EIFFEL TOWER", "CamelCaseWord", "iPhone", "McDonald's",
              "\u0130I\u0131i", "\u01c4\u01c5\u01c6", "\u1e9e", "\u2126", "\u212a"],
    "study": ["a sketch of a fish", "a drawing of a a perfect sketch of a fish", "a perfect sketch of a fish",
              "a a perfect sketch of a fish", "a sketch of a a perfect sketch of a fish",
              "a simple a perfect sketch of a fish", "a a perfect sketch of a fish drawing"],
    "long": ["a " * 80, "word " * 100, "supercalifragilisticexpialidocious" * 10,
             "x" * 1000, "\u732b" * 300, "hello! " * 40 + "end", "1" * 200, ". " * 200,
             "a photo of a " + "very " * 70 + "large dog", "ab" * 500, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
}

FTFY_CHARS = set("\u02bc\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
                 "\u0132\u0133\u0149\u01c4\u01c5\u01c6\u01c7\u01c8\u01c9\u01ca\u01cb\u01cc\u01f1\u01f2\u01f3"
                 "\ufeff\u180e\u200b")


def ftfy_neutral(s):
    """Heuristic: False if ftfy.fix_text would probably change s."""
    t = html.unescape(html.unescape(s))
    if unicodedata.normalize("NFC", t) != t:
        return False
    for c in t:
        o = ord(c)
        if c in FTFY_CHARS or 0xFF01 <= o <= 0xFFEF or 0xE0000 <= o <= 0xE007F:
            return False
        if unicodedata.category(c) == "Cc" and c not in "\t\n\r":
            return False
        if 0x80 <= o <= 0x9F or 0xC0 <= o <= 0xFF and any(0x80 <= ord(d) <= 0xBF for d in t):
            return False  # might look like mojibake
    return True


def random_cases(n, seed):
    rng = random.Random(seed)
    pieces = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") * 3 + list("0123456789") * 2
              + list(" \t\n.,;:!?'\"-_()[]<>|/&#%*+=@") * 2
              + ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "&amp;", "&lt;", "&#39;", "&#x41;", "&gt",
                 "&eacute;", "<|endoftext|>", "\u00e9", "\u00df", "\u00f1", "\u03a3", "\u03c3", "\u03b1",
                 "\u0416", "\u0436", "\u732b", "\u72d7", "\u3042", "\u0645", "\u0928", "\u094d",
                 "\U0001f600", "\U0001f3fd", "\u200d", "\u00a0", "\u2003", "\u0130", "\u00bd", "\u0663",
                 "\u0301", "\u2764", "ing", "tion", "the ", "dog", "cat", "sketch", "  "])
    out = []
    for _ in range(n):
        k = rng.randint(1, 24)
        out.append("".join(rng.choice(pieces) for _ in range(k)))
    return out


def quickdraw_words():
    seen = []
    with gzip.open(os.path.join(ROOT, "data", "quickdraw", "all-words.ndjson.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            w = json.loads(line)["word"]
            if w not in seen:
                seen.append(w)
    return seen


def all_cases():
    cases = []
    for g, lst in HAND.items():
        cases += [(g, s) for s in lst]
    for w in WORDS10:
        for t in OPT_T + CLIPASSO_T + ZS_T + ["{}", "sketch of a {}"]:
            cases.append(("templates", t.format(w)))
    for w in quickdraw_words():
        cases.append(("quickdraw", w))
        cases.append(("quickdraw", "a sketch of a " + w))
    cases += [("random", s) for s in random_cases(300, 20240601)]
    seen, out = set(), []
    for g, s in cases:
        if s not in seen:
            seen.add(s)
            out.append((g, s))
    return out


def write_golden():
    ref = Ref(VOCAB)
    for text, want in [("a diagram", [320, 22697]), ("a dog", [320, 1929]), ("a cat", [320, 2368])]:
        got = ref.encode(text)
        assert got == want, (text, got, want)
    outdir = os.path.join(ROOT, "tests", "fixtures", "bpe")
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, "golden.jsonl")
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for g, s in all_cases():
            ids = ref.encode(s)
            ctx, fits = ref.tokenize(s)
            rec = {"group": g, "text": s, "ids": ids, "ctx": ctx, "fits": fits,
                   "decoded": ref.decode(ids), "ftfy_neutral": ftfy_neutral(s)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    print(f"wrote {n} cases to {path}", file=sys.stderr)


# ------------------------------------------------------------------ tables


def ranges(pred):
    out, start = [], None
    for cp in range(0x110001):
        on = cp <= 0x10FFFF and not (0xD800 <= cp <= 0xDFFF) and pred(cp)
        if on and start is None:
            start = cp
        elif not on and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def cstr(b):
    return '"' + "".join(chr(c) if (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c in b";")
                         else "\\%03o" % c for c in b) + '"'


def emit_list(f, items, per):
    for i in range(0, len(items), per):
        f.write("    " + " ".join(items[i:i + per]) + "\n")


def write_tables():
    lower, multi = [], {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        s = chr(cp)
        t = s.lower()
        if t != s:
            if len(t) == 1:
                lower.append((cp, ord(t)))
            else:
                multi[cp] = t
    assert multi == {0x130: "i\u0307"}, multi
    # Final_Sigma context, probed from str.lower() itself:
    #   "AΣc"  lowers Σ to σ  iff  c is cased and not case-ignorable
    #   "AΣca" lowers Σ to σ  iff  c is case-ignorable or cased
    sig_cased = lambda cp: ("A\u03a3" + chr(cp)).lower()[1] == "\u03c3"
    sig_ign = lambda cp: ("A\u03a3" + chr(cp) + "a").lower()[1] == "\u03c3" and not sig_cased(cp)
    cased = ranges(sig_cased)
    ign = ranges(sig_ign)
    space = ranges(lambda cp: chr(cp).isspace())
    ent = sorted((k.encode(), v.encode("utf-8")) for k, v in html.entities.html5.items())
    inv_ref = sorted(html._invalid_charrefs.items())
    inv_cp = sorted(c for c in html._invalid_codepoints if c <= 0x10FFFF)
    path = os.path.join(ROOT, "common", "bpe_tables.h")
    with open(path, "w") as f:
        f.write("/* bpe_tables.h - GENERATED by tests/gen_bpe_ref.py --tables; do not edit.\n"
                " *\n * Data for common/bpe.c's text cleaning, taken from CPython %s (Unicode %s):\n"
                " *   bpe_lower        code point -> str.lower() (single code point; U+0130 is the\n"
                " *                    only multi-code-point case and is handled in bpe.c)\n"
                " *   bpe_cased        ranges that count as cased for the Final_Sigma rule\n"
                " *   bpe_ignorable    ranges that are Case_Ignorable (probed from str.lower())\n"
                " *   bpe_space        ranges where str.isspace() (what re's \\s matches)\n"
                " *   bpe_entities     html.entities.html5, sorted by name (strcmp order)\n"
                " *   bpe_charref_fix  html._invalid_charrefs (numeric reference -> text)\n"
                " *   bpe_charref_drop html._invalid_codepoints (numeric references dropped) */\n"
                % (sys.version.split()[0], unicodedata.unidata_version))
        f.write("#ifndef BPE_TABLES_H\n#define BPE_TABLES_H\n#include <stdint.h>\n\n")
        f.write("#define BPE_UNICODE_VERSION \"%s\"\n\n" % unicodedata.unidata_version)
        f.write("static const uint32_t bpe_lower[][2] = {\n")
        emit_list(f, ["{0x%X, 0x%X}," % p for p in lower], 6)
        f.write("};\n\n")
        for name, rs in (("bpe_cased", cased), ("bpe_ignorable", ign), ("bpe_space", space)):
            f.write("static const uint32_t %s[][2] = {\n" % name)
            emit_list(f, ["{0x%X, 0x%X}," % r for r in rs], 6)
            f.write("};\n\n")
        f.write("static const struct { const char *name, *text; } bpe_entities[] = {\n")
        emit_list(f, ["{%s, %s}," % (cstr(k), cstr(v)) for k, v in ent], 3)
        f.write("};\n\n")
        f.write("static const struct { uint32_t num; const char *text; } bpe_charref_fix[] = {\n")
        emit_list(f, ["{0x%X, %s}," % (k, cstr(v.encode("utf-8"))) for k, v in inv_ref], 4)
        f.write("};\n\n")
        f.write("static const uint32_t bpe_charref_drop[] = {\n")
        emit_list(f, ["0x%X," % c for c in inv_cp], 10)
        f.write("};\n\n#endif\n")
    print(f"wrote {path}: {len(lower)} lower, {len(cased)} cased, {len(ign)} ignorable, {len(space)} space"
          f" ranges, {len(ent)} entities", file=sys.stderr)


if __name__ == "__main__":
    if "--tables" in sys.argv[1:]:
        write_tables()
    else:
        write_golden()
