#!/usr/bin/python3
"""gen_tensorfile_ref.py - fixtures for test_tensorfile and test_clip_load.

Writes tests/fixtures/tensorfile/ (run from the repository root with Debian's
python3-torch; the committed files were made with torch 1.13):

  tiny CLIP, one set of weights in every container and naming:
    openai_f32.safetensors  OpenAI names, F32, __metadata__ v_heads/t_heads
    openai_f16.safetensors  OpenAI names, F16, no metadata (heads need an override)
    hf_f32.safetensors      Hugging Face names, F32 (+ int64 position_ids buffers)
    hf_bf16.safetensors     Hugging Face names, BF16
    pytorch_model.bin       torch.save of the HF state dict (zip), with the
                            q/k/v weights as views into one shared storage
                            (storage offsets) and text_projection.weight as a
                            transposed (non-contiguous) view
    openai_f16.pt           torch.save of the OpenAI state dict, F16 (OpenAI's dtype)
    openai_jit.pt           torch.jit.save of a scripted module with OpenAI's
                            module structure, F16 (what OpenAI's .pt files are)
    config.json             HF config beside the HF files (num_attention_heads)
    tiny_clip.f32           the reference: every parameter as little-endian
                            float32 in clip_params.h's layout order, mapped from
                            the OpenAI state dict here in Python
    tiny_clip.cfg           the expected clip_config_t, "key value" lines
  The weights are rounded to BF16 and kept away from F16's subnormal range, so
  every container holds them exactly and all must load bit-identical to
  tiny_clip.f32.

  dtypes.safetensors, dtypes.bin  conversion references: F16/BF16 special
    values (subnormals, inf, NaN, max, -0) next to torch's float32 conversion
    of them ("<x>" and "<x>_f32"), F64, I64, a scalar, an empty tensor; the
    .bin adds a strided view and a storage-offset view with their contiguous
    copies.
  resnet.safetensors  a few RN50-style names: the loader must refuse it (an incomplete ResNet CLIP).
  evil_*.bin, legacy.bin, missing_storage.bin, short_storage.bin  hostile or
    broken checkpoints with known errors.
"""
import collections
import io
import json
import math
import os
import pickle
import struct
import sys
import zipfile

import torch

OUT = "tests/fixtures/tensorfile"
CFG = dict(v_width=16, v_layers=2, v_heads=2, patch=4, image_size=8,
           t_width=8, t_layers=3, t_heads=1, context=7, vocab=40, embed_dim=12, mlp_ratio=4)

ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata=None):
    """The format by hand: u64 LE header length, JSON header, raw LE data."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def exact_weights(shape, gen, scale=0.5, base=0.0):
    x = torch.randn(shape, generator=gen) * scale + base
    x = x.to(torch.bfloat16).float()
    x[x.abs() < 2.0 ** -10] = 0.0        # away from F16 subnormals: exact in F16 too
    assert torch.equal(x.half().float(), x) and torch.equal(x.bfloat16().float(), x)
    return x


def openai_state_dict(c, gen):
    """OpenAI CLIP names and shapes, in clip_params.h's layout order."""
    sd = collections.OrderedDict()
    W = lambda *s, **k: exact_weights(s, gen, **k)
    vw, tw, E, r = c["v_width"], c["t_width"], c["embed_dim"], c["mlp_ratio"]
    tv = (c["image_size"] // c["patch"]) ** 2 + 1

    def block(pre, w):
        sd[pre + "ln_1.weight"] = W(w, scale=0.1, base=1.0)
        sd[pre + "ln_1.bias"] = W(w, scale=0.1)
        sd[pre + "attn.in_proj_weight"] = W(3 * w, w)
        sd[pre + "attn.in_proj_bias"] = W(3 * w, scale=0.1)
        sd[pre + "attn.out_proj.weight"] = W(w, w)
        sd[pre + "attn.out_proj.bias"] = W(w, scale=0.1)
        sd[pre + "ln_2.weight"] = W(w, scale=0.1, base=1.0)
        sd[pre + "ln_2.bias"] = W(w, scale=0.1)
        sd[pre + "mlp.c_fc.weight"] = W(r * w, w)
        sd[pre + "mlp.c_fc.bias"] = W(r * w, scale=0.1)
        sd[pre + "mlp.c_proj.weight"] = W(w, r * w)
        sd[pre + "mlp.c_proj.bias"] = W(w, scale=0.1)

    sd["visual.conv1.weight"] = W(vw, 3, c["patch"], c["patch"])
    sd["visual.class_embedding"] = W(vw)
    sd["visual.positional_embedding"] = W(tv, vw)
    sd["visual.ln_pre.weight"] = W(vw, scale=0.1, base=1.0)
    sd["visual.ln_pre.bias"] = W(vw, scale=0.1)
    for i in range(c["v_layers"]):
        block("visual.transformer.resblocks.%d." % i, vw)
    sd["visual.ln_post.weight"] = W(vw, scale=0.1, base=1.0)
    sd["visual.ln_post.bias"] = W(vw, scale=0.1)
    sd["visual.proj"] = W(vw, E)
    sd["token_embedding.weight"] = W(c["vocab"], tw)
    sd["positional_embedding"] = W(c["context"], tw)
    for i in range(c["t_layers"]):
        block("transformer.resblocks.%d." % i, tw)
    sd["ln_final.weight"] = W(tw, scale=0.1, base=1.0)
    sd["ln_final.bias"] = W(tw, scale=0.1)
    sd["text_projection"] = W(tw, E)
    sd["logit_scale"] = torch.tensor(math.log(1 / 0.07)).to(torch.bfloat16).float()
    return sd


def hf_state_dict(o, c):
    """The same weights under transformers' CLIPModel names."""
    hf = collections.OrderedDict()

    def block(src, dst, w):
        m = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "attn.out_proj": "self_attn.out_proj",
             "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
        for a, b in m.items():
            for s in ("weight", "bias"):
                hf[dst + b + "." + s] = o[src + a + "." + s]
        for k, part in enumerate("qkv"):
            hf[dst + "self_attn.%s_proj.weight" % part] = o[src + "attn.in_proj_weight"][k * w:(k + 1) * w]
            hf[dst + "self_attn.%s_proj.bias" % part] = o[src + "attn.in_proj_bias"][k * w:(k + 1) * w]

    tv = (c["image_size"] // c["patch"]) ** 2 + 1
    hf["vision_model.embeddings.class_embedding"] = o["visual.class_embedding"]
    hf["vision_model.embeddings.patch_embedding.weight"] = o["visual.conv1.weight"]
    hf["vision_model.embeddings.position_embedding.weight"] = o["visual.positional_embedding"]
    hf["vision_model.embeddings.position_ids"] = torch.arange(tv).unsqueeze(0)
    hf["vision_model.pre_layrnorm.weight"] = o["visual.ln_pre.weight"]
    hf["vision_model.pre_layrnorm.bias"] = o["visual.ln_pre.bias"]
    for i in range(c["v_layers"]):
        block("visual.transformer.resblocks.%d." % i, "vision_model.encoder.layers.%d." % i, c["v_width"])
    hf["vision_model.post_layernorm.weight"] = o["visual.ln_post.weight"]
    hf["vision_model.post_layernorm.bias"] = o["visual.ln_post.bias"]
    hf["visual_projection.weight"] = o["visual.proj"].t()
    hf["text_model.embeddings.token_embedding.weight"] = o["token_embedding.weight"]
    hf["text_model.embeddings.position_embedding.weight"] = o["positional_embedding"]
    hf["text_model.embeddings.position_ids"] = torch.arange(c["context"]).unsqueeze(0)
    for i in range(c["t_layers"]):
        block("transformer.resblocks.%d." % i, "text_model.encoder.layers.%d." % i, c["t_width"])
    hf["text_model.final_layer_norm.weight"] = o["ln_final.weight"]
    hf["text_model.final_layer_norm.bias"] = o["ln_final.bias"]
    hf["text_projection.weight"] = o["text_projection"].t()
    hf["logit_scale"] = o["logit_scale"]
    return hf


def cast(sd, dtype):
    return collections.OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())


def contiguous(sd):
    return collections.OrderedDict((k, v.contiguous().clone()) for k, v in sd.items())


def with_metadata(sd):
    """A state_dict() carries a _metadata attribute; pickling it adds a BUILD."""
    sd = collections.OrderedDict(sd)
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    return sd


def scripted_openai(o, c):
    """A TorchScript module whose attribute tree spells OpenAI's state_dict names."""
    nn = torch.nn

    class Attn(nn.Module):
        def __init__(self, pre):
            super().__init__()
            self.in_proj_weight = nn.Parameter(o[pre + "attn.in_proj_weight"].half())
            self.in_proj_bias = nn.Parameter(o[pre + "attn.in_proj_bias"].half())
            self.out_proj = nn.Linear(1, 1)
            self.out_proj.weight = nn.Parameter(o[pre + "attn.out_proj.weight"].half())
            self.out_proj.bias = nn.Parameter(o[pre + "attn.out_proj.bias"].half())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.in_proj_bias[0] + self.out_proj.bias[0]

    def ln(pre):
        m = nn.LayerNorm(1)
        m.weight = nn.Parameter(o[pre + ".weight"].half())
        m.bias = nn.Parameter(o[pre + ".bias"].half())
        return m

    def lin(pre):
        m = nn.Linear(1, 1)
        m.weight = nn.Parameter(o[pre + ".weight"].half())
        m.bias = nn.Parameter(o[pre + ".bias"].half())
        return m

    class Block(nn.Module):
        def __init__(self, pre):
            super().__init__()
            self.attn = Attn(pre)
            self.ln_1 = ln(pre + "ln_1")
            self.mlp = nn.Sequential(collections.OrderedDict(
                [("c_fc", lin(pre + "mlp.c_fc")), ("c_proj", lin(pre + "mlp.c_proj"))]))
            self.ln_2 = ln(pre + "ln_2")
            self.attn_mask = torch.zeros(2, 2)   # plain tensor attribute, as in OpenAI's model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attn(x) + self.ln_1.bias[0] + self.ln_2.bias[0] + self.mlp[0].bias[0] + self.mlp[1].bias[0]

    class Transformer(nn.Module):
        def __init__(self, pre, n):
            super().__init__()
            self.resblocks = nn.Sequential(*[Block("%sresblocks.%d." % (pre, i)) for i in range(n)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.resblocks(x)

    class Visual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, c["v_width"], c["patch"], c["patch"], bias=False)
            self.conv1.weight = nn.Parameter(o["visual.conv1.weight"].half())
            self.class_embedding = nn.Parameter(o["visual.class_embedding"].half())
            self.positional_embedding = nn.Parameter(o["visual.positional_embedding"].half())
            self.ln_pre = ln("visual.ln_pre")
            self.transformer = Transformer("visual.transformer.", c["v_layers"])
            self.ln_post = ln("visual.ln_post")
            self.proj = nn.Parameter(o["visual.proj"].half())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.transformer(x) + self.ln_pre.bias[0] + self.ln_post.bias[0] + self.class_embedding[0]

    class CLIP(nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = Visual()
            self.transformer = Transformer("transformer.", c["t_layers"])
            self.token_embedding = nn.Embedding(c["vocab"], c["t_width"])
            self.token_embedding.weight = nn.Parameter(o["token_embedding.weight"].half())
            self.positional_embedding = nn.Parameter(o["positional_embedding"].half())
            self.ln_final = ln("ln_final")
            self.text_projection = nn.Parameter(o["text_projection"].half())
            self.logit_scale = nn.Parameter(o["logit_scale"].half())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.visual(x) + self.transformer(x) + self.ln_final.bias[0] + self.logit_scale

    return torch.jit.script(CLIP())


def zip_checkpoint(path, pkl, entries, prefix="archive"):
    """A torch-style zip with a hand-made data.pkl."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "/data.pkl", pkl)
        for k, v in entries.items():
            z.writestr(prefix + "/data/" + k, v)
        z.writestr(prefix + "/version", "3\n")


def tensor_pickle(storage_type, key, numel, size, stride, offset=0):
    """Protocol-2 data.pkl of {'w': tensor} by hand, as torch.save writes it."""
    ints = lambda xs: b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"
    return (b"\x80\x02ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00w"
            b"ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
            b"ctorch\n" + storage_type + b"\nX" + struct.pack("<I", len(key)) + key +
            b"X\x03\x00\x00\x00cpuJ" + struct.pack("<i", numel) + b"tQJ" + struct.pack("<i", offset) +
            ints(size) + ints(stride) + b"\x89h\x00)RtRu.")


def main():
    os.makedirs(OUT, exist_ok=True)
    c = CFG
    gen = torch.Generator().manual_seed(20240601)
    o = openai_state_dict(c, gen)
    hf = hf_state_dict(o, c)
    p = lambda n: os.path.join(OUT, n)

    with open(p("tiny_clip.f32"), "wb") as f:
        f.write(torch.cat([v.reshape(-1) for v in o.values()]).numpy().astype("<f4").tobytes())
    with open(p("tiny_clip.cfg"), "w") as f:
        for k, v in CFG.items():
            f.write("%s %d\n" % (k, v))
    with open(p("config.json"), "w") as f:
        json.dump({"architectures": ["CLIPModel"], "projection_dim": c["embed_dim"],
                   "text_config": {"hidden_size": c["t_width"], "num_attention_heads": c["t_heads"],
                                   "num_hidden_layers": c["t_layers"], "hidden_act": "quick_gelu"},
                   "vision_config": {"hidden_size": c["v_width"], "num_attention_heads": c["v_heads"],
                                     "num_hidden_layers": c["v_layers"], "hidden_act": "quick_gelu"}},
                  f, indent=1)

    write_safetensors(p("openai_f32.safetensors"), o,
                      {"format": "pt", "v_heads": str(c["v_heads"]), "t_heads": str(c["t_heads"])})
    write_safetensors(p("openai_f16.safetensors"), cast(o, torch.float16))
    write_safetensors(p("hf_f32.safetensors"), contiguous(hf), {"format": "pt"})
    write_safetensors(p("hf_bf16.safetensors"), cast(contiguous(hf), torch.bfloat16), {"format": "pt"})

    # HF .bin: q/k/v as views into one shared in_proj storage, projections transposed views
    torch.save(with_metadata(hf), p("pytorch_model.bin"))
    torch.save(with_metadata(cast(contiguous(o), torch.float16)), p("openai_f16.pt"))
    torch.jit.save(scripted_openai(o, c), p("openai_jit.pt"))

    # conversion references
    f16 = torch.tensor([0, 1, 0x3ff, 0x400, 0x3c00, 0x3c01, 0x7bff, 0x7c00, 0x7e00, 0x7c01, 0x8000, 0x8001,
                        0xfc00, 0xc000, 0x0200, 0x5640, 0x1234, 0xabcd], dtype=torch.int32).to(torch.int16)
    f16 = torch.cat([f16, (torch.arange(0, 65536, 251, dtype=torch.int32)).to(torch.int16)]).view(torch.float16)
    bf16 = torch.tensor([0, 1, 0x7f, 0x80, 0x3f80, 0x3f81, 0x7f7f, 0x7f80, 0x7fc0, 0x7f81, 0x8000, 0x8001,
                         0xff80, 0xc000, 0x4049, 0x1234, 0xabcd], dtype=torch.int32).to(torch.int16)
    bf16 = torch.cat([bf16, (torch.arange(0, 65536, 257, dtype=torch.int32)).to(torch.int16)]).view(torch.bfloat16)
    f64 = torch.tensor([0.0, 1.0, -2.5, 1e-3, 3.141592653589793, 1e30, -1e-30], dtype=torch.float64)
    dt = collections.OrderedDict([
        ("f16", f16), ("f16_f32", f16.float()), ("bf16", bf16), ("bf16_f32", bf16.float()),
        ("f64", f64), ("f64_f32", f64.float()), ("i64", torch.arange(5)), ("scalar", torch.tensor(2.5)),
        ("empty", torch.zeros(0, 3))])
    write_safetensors(p("dtypes.safetensors"), dt)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.25
    dt["strided"] = base.t()[1:5, ::2]          # non-contiguous, with offset
    dt["strided_f32"] = dt["strided"].contiguous().clone()
    dt["offset"] = base.reshape(-1)[7:19].view(3, 4)
    dt["offset_f32"] = dt["offset"].clone()
    dt["half_strided"] = base.half().t()
    dt["half_strided_f32"] = base.t().contiguous()
    torch.save(dt, p("dtypes.bin"))

    write_safetensors(p("resnet.safetensors"), collections.OrderedDict([
        ("visual.conv1.weight", torch.zeros(4, 3, 3, 3)), ("visual.layer1.0.conv1.weight", torch.zeros(4, 4, 1, 1)),
        ("visual.attnpool.positional_embedding", torch.zeros(5, 8)), ("token_embedding.weight", torch.zeros(10, 8))]))

    # hostile and broken checkpoints
    zip_checkpoint(p("evil_global.bin"), b"\x80\x02cos\nsystem\nq\x00X\x0c\x00\x00\x00echo pwned!!\x85R.", {})
    zip_checkpoint(p("evil_stack_global.bin"), pickle.dumps(eval, protocol=4)[:-1] +
                   b"X\x0c\x00\x00\x00print('hi!')\x85R.", {})
    zip_checkpoint(p("missing_storage.bin"), tensor_pickle(b"FloatStorage", b"7", 4, [2, 2], [2, 1]), {})
    zip_checkpoint(p("short_storage.bin"), tensor_pickle(b"FloatStorage", b"0", 4, [2, 2], [2, 1]),
                   {"0": b"\0" * 12})
    zip_checkpoint(p("huge_shape.bin"), tensor_pickle(b"FloatStorage", b"0", 4, [1 << 30, 1 << 30], [1 << 30, 1]),
                   {"0": b"\0" * 16})
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf, _use_new_zipfile_serialization=False)
    with open(p("legacy.bin"), "wb") as f:
        f.write(buf.getvalue())
    total = sum(os.path.getsize(p(n)) for n in os.listdir(OUT))
    print("wrote %d files, %d bytes, in %s" % (len(os.listdir(OUT)), total, OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
