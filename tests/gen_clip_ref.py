#!/usr/bin/python3
"""gen_clip_ref.py - independent PyTorch reference for the C CLIP (common/clip.c).

Builds CLIP from the published architecture description (Radford et al. 2021;
OpenAI's model card: ViT image tower with patch conv, class token, positional
embedding, ln_pre, pre-LN residual attention blocks with QuickGELU, ln_post on
the class token, projection; text tower with causal blocks, ln_final, pooling
at the end-of-text token (argmax of ids), projection).  Written here from that
description with torch.nn.functional primitives - not from OpenAI's code.

Writes into tests/fixtures/clip/:
  tiny_openai.safetensors   tiny random CLIP, OpenAI/open_clip naming, F32
  tiny_hf.safetensors       the same weights, Hugging Face naming
  tiny_hf.bin               the same, HF naming, as a PyTorch zip checkpoint (torch.save)
  tiny_ref.safetensors      inputs, outputs, every block's output, gradients
  b32_ref.safetensors       one image through a full-size ViT-B/32 whose weights
                            are a closed-form function of (tensor name, index)
                            (see closed_form below; the C test computes the same)
Run: /usr/bin/python3 tests/gen_clip_ref.py   (needs Debian's python3-torch; CI does not)
"""
import json, math, os, struct, sys
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_write import write_safetensors  # noqa: E402  (the writer every generator shares)

OUT = os.environ.get("CLIP_REF_OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "clip")

# ---------------------------------------------------------------- safetensors

# ---------------------------------------------------------------- the model

def block_names(prefix, L):
    for i in range(L):
        p = f"{prefix}.resblocks.{i}."
        yield i, p

def make_params(cfg, init):
    """OpenAI-named state dict; init(name, shape) -> tensor."""
    P = {}
    Wv, Wt, E = cfg["v_width"], cfg["t_width"], cfg["embed"]
    G = cfg["image"] // cfg["patch"]
    def add(n, *shape):
        P[n] = init(n, shape)
    add("visual.conv1.weight", Wv, 3, cfg["patch"], cfg["patch"])
    add("visual.class_embedding", Wv)
    add("visual.positional_embedding", G * G + 1, Wv)
    add("visual.ln_pre.weight", Wv); add("visual.ln_pre.bias", Wv)
    for tower, W, L in (("visual.transformer", Wv, cfg["v_layers"]), ("transformer", Wt, cfg["t_layers"])):
        for i, p in block_names(tower, L):
            add(p + "ln_1.weight", W); add(p + "ln_1.bias", W)
            add(p + "attn.in_proj_weight", 3 * W, W); add(p + "attn.in_proj_bias", 3 * W)
            add(p + "attn.out_proj.weight", W, W); add(p + "attn.out_proj.bias", W)
            add(p + "ln_2.weight", W); add(p + "ln_2.bias", W)
            add(p + "mlp.c_fc.weight", 4 * W, W); add(p + "mlp.c_fc.bias", 4 * W)
            add(p + "mlp.c_proj.weight", W, 4 * W); add(p + "mlp.c_proj.bias", W)
    add("visual.ln_post.weight", Wv); add("visual.ln_post.bias", Wv)
    add("visual.proj", Wv, E)
    add("token_embedding.weight", cfg["vocab"], Wt)
    add("positional_embedding", cfg["context"], Wt)
    add("ln_final.weight", Wt); add("ln_final.bias", Wt)
    add("text_projection", Wt, E)
    add("logit_scale")
    return P

def qgelu(x):
    return x * torch.sigmoid(1.702 * x)

def resblock(x, P, p, heads, causal):
    # x: (B, T, W)
    B, T, W = x.shape
    hd = W // heads
    h = F.layer_norm(x, (W,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], eps=1e-5)
    qkv = h @ P[p + "attn.in_proj_weight"].t() + P[p + "attn.in_proj_bias"]
    q, k, v = qkv.split(W, dim=-1)
    q = q.view(B, T, heads, hd).transpose(1, 2)
    k = k.view(B, T, heads, hd).transpose(1, 2)
    v = v.view(B, T, heads, hd).transpose(1, 2)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    if causal:
        mask = torch.full((T, T), float("-inf")).triu(1)
        s = s + mask
    a = torch.softmax(s, dim=-1)
    o = (a @ v).transpose(1, 2).reshape(B, T, W)
    x = x + (o @ P[p + "attn.out_proj.weight"].t() + P[p + "attn.out_proj.bias"])
    h = F.layer_norm(x, (W,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], eps=1e-5)
    h = qgelu(h @ P[p + "mlp.c_fc.weight"].t() + P[p + "mlp.c_fc.bias"])
    return x + (h @ P[p + "mlp.c_proj.weight"].t() + P[p + "mlp.c_proj.bias"])

def encode_image(P, cfg, img, feats=None):
    Wv = cfg["v_width"]
    x = F.conv2d(img, P["visual.conv1.weight"], stride=cfg["patch"])  # (B, Wv, G, G)
    B = x.shape[0]
    x = x.reshape(B, Wv, -1).transpose(1, 2)                            # (B, G*G, Wv)
    cls = P["visual.class_embedding"].expand(B, 1, Wv)
    x = torch.cat([cls, x], dim=1) + P["visual.positional_embedding"]
    x = F.layer_norm(x, (Wv,), P["visual.ln_pre.weight"], P["visual.ln_pre.bias"], eps=1e-5)
    for i, p in block_names("visual.transformer", cfg["v_layers"]):
        x = resblock(x, P, p, cfg["v_heads"], False)
        if feats is not None:
            feats.append(x)
    x = F.layer_norm(x[:, 0, :], (Wv,), P["visual.ln_post.weight"], P["visual.ln_post.bias"], eps=1e-5)
    return x @ P["visual.proj"]

def encode_text(P, cfg, ids):
    Wt = cfg["t_width"]
    x = P["token_embedding.weight"][ids] + P["positional_embedding"]
    for i, p in block_names("transformer", cfg["t_layers"]):
        x = resblock(x, P, p, cfg["t_heads"], True)
    x = F.layer_norm(x, (Wt,), P["ln_final.weight"], P["ln_final.bias"], eps=1e-5)
    x = x[torch.arange(x.shape[0]), ids.argmax(dim=-1)]
    return x @ P["text_projection"]

# ---------------------------------------------------------------- naming

def to_hf(P, cfg):
    """OpenAI names -> Hugging Face CLIPModel names (q/k/v split, projections transposed)."""
    H = {}
    H["vision_model.embeddings.patch_embedding.weight"] = P["visual.conv1.weight"]
    H["vision_model.embeddings.class_embedding"] = P["visual.class_embedding"]
    H["vision_model.embeddings.position_embedding.weight"] = P["visual.positional_embedding"]
    H["vision_model.pre_layrnorm.weight"] = P["visual.ln_pre.weight"]
    H["vision_model.pre_layrnorm.bias"] = P["visual.ln_pre.bias"]
    for tower, hf, W, L in (("visual.transformer", "vision_model", cfg["v_width"], cfg["v_layers"]),
                            ("transformer", "text_model", cfg["t_width"], cfg["t_layers"])):
        for i, p in block_names(tower, L):
            q = f"{hf}.encoder.layers.{i}."
            H[q + "layer_norm1.weight"] = P[p + "ln_1.weight"]
            H[q + "layer_norm1.bias"] = P[p + "ln_1.bias"]
            for j, n in enumerate("qkv"):
                H[q + f"self_attn.{n}_proj.weight"] = P[p + "attn.in_proj_weight"][j * W:(j + 1) * W]
                H[q + f"self_attn.{n}_proj.bias"] = P[p + "attn.in_proj_bias"][j * W:(j + 1) * W]
            H[q + "self_attn.out_proj.weight"] = P[p + "attn.out_proj.weight"]
            H[q + "self_attn.out_proj.bias"] = P[p + "attn.out_proj.bias"]
            H[q + "layer_norm2.weight"] = P[p + "ln_2.weight"]
            H[q + "layer_norm2.bias"] = P[p + "ln_2.bias"]
            H[q + "mlp.fc1.weight"] = P[p + "mlp.c_fc.weight"]
            H[q + "mlp.fc1.bias"] = P[p + "mlp.c_fc.bias"]
            H[q + "mlp.fc2.weight"] = P[p + "mlp.c_proj.weight"]
            H[q + "mlp.fc2.bias"] = P[p + "mlp.c_proj.bias"]
    H["vision_model.post_layernorm.weight"] = P["visual.ln_post.weight"]
    H["vision_model.post_layernorm.bias"] = P["visual.ln_post.bias"]
    H["visual_projection.weight"] = P["visual.proj"].t()
    H["text_model.embeddings.token_embedding.weight"] = P["token_embedding.weight"]
    H["text_model.embeddings.position_embedding.weight"] = P["positional_embedding"]
    H["text_model.final_layer_norm.weight"] = P["ln_final.weight"]
    H["text_model.final_layer_norm.bias"] = P["ln_final.bias"]
    H["text_projection.weight"] = P["text_projection"].t()
    H["logit_scale"] = P["logit_scale"]
    return {k: v.detach().clone().contiguous() for k, v in H.items()}

# ---------------------------------------------------------------- closed-form weights

def fnv1a32(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h

def closed_form(name, shape):
    """Deterministic weights, identical in C (tests/unit/test_clip.c: cf_value):
    u_i = mix32(i * 2654435761 + fnv1a32(name)) / 2^32 * 2 - 1   (uint32 arithmetic)
    value = 1 + 0.1 u          for LayerNorm weights (names ending ln_*.weight / ln_final.weight)
            0.02 u             for biases, class/positional embeddings
            u / sqrt(fan_in)   for matrices, fan_in = last dim (conv: 3*P*P); proj: first dim
            log(100)           for logit_scale"""
    n = int(np.prod(shape)) if shape else 1
    h = np.uint64(fnv1a32(name))
    i = np.arange(n, dtype=np.uint64)
    x = (i * np.uint64(2654435761) + h) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(3266489917)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    u = x.astype(np.float64) / 4294967296.0 * 2.0 - 1.0
    if name == "logit_scale":
        v = np.full(n, math.log(100.0))
    elif ("ln_" in name or "ln_final" in name) and name.endswith(".weight"):
        v = 1.0 + 0.1 * u
    elif name.endswith("bias") or "embedding" in name and "token" not in name:
        v = 0.02 * u
    elif name in ("visual.proj", "text_projection"):
        v = u / math.sqrt(shape[0])
    elif len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        v = u / math.sqrt(fan_in)
    else:
        v = 0.02 * u
    return torch.tensor(v.astype(np.float32)).reshape(shape)

def cf_image(S):
    """The test image: img[c,y,x] = 0.5 + 0.45 sin(0.07 x + 0.11 y + c) cos(0.05 (x - y)), CLIP-normalised."""
    mean = [0.48145466, 0.4578275, 0.40821073]
    std = [0.26862954, 0.26130258, 0.27577711]
    y, x = np.mgrid[0:S, 0:S].astype(np.float64)
    img = np.stack([(0.5 + 0.45 * np.sin(0.07 * x + 0.11 * y + c) * np.cos(0.05 * (x - y)) - mean[c]) / std[c]
                    for c in range(3)])
    return torch.tensor(img.astype(np.float32))[None]

# ---------------------------------------------------------------- main

def main():
    torch.manual_seed(1234)
    os.makedirs(OUT, exist_ok=True)
    tiny = dict(image=32, patch=8, v_width=64, v_layers=2, v_heads=2, context=16, vocab=300,
                t_width=64, t_layers=2, t_heads=2, embed=32)

    def rnd(name, shape):
        if name == "logit_scale":
            return torch.tensor(math.log(1 / 0.07))
        if name.endswith(".weight") and ("ln_" in name or "ln_final" in name):
            return 1 + 0.1 * torch.randn(shape)
        if name.endswith("bias"):
            return 0.1 * torch.randn(shape)
        if len(shape) >= 2 and "embedding" not in name:
            return torch.randn(shape) / math.sqrt(shape[-1] if name not in ("visual.proj", "text_projection") else shape[0]) \
                if "conv1" not in name else torch.randn(shape) / math.sqrt(3 * shape[-1] * shape[-2])
        return 0.5 * torch.randn(shape)

    P = make_params(tiny, rnd)
    for v in P.values():
        v.requires_grad_(True)
    B = 2
    img = torch.randn(B, 3, tiny["image"], tiny["image"]).requires_grad_(True)
    sot, eot = tiny["vocab"] - 2, tiny["vocab"] - 1
    ids = torch.zeros(3, tiny["context"], dtype=torch.int64)
    for b, n in enumerate((3, 9, 14)):
        ids[b, 0] = sot
        ids[b, 1:n + 1] = torch.randint(1, sot, (n,))
        ids[b, n + 1] = eot

    feats = []
    emb = encode_image(P, tiny, img, feats)
    r_img = torch.randn_like(emb)
    r_feat = [torch.randn_like(f) for f in feats]
    # loss: <emb, R> + sum_l 0.1 <feat_l, R_l> (the feature term exercises gradient injection)
    loss = (emb * r_img).sum() + sum(0.1 * (f * r).sum() for f, r in zip(feats, r_feat))
    loss.backward()
    ref = {"image": img.detach(), "image_emb": emb.detach(), "image_demb": r_img, "ids": ids.to(torch.float32)}
    for l, (f, r) in enumerate(zip(feats, r_feat)):
        ref[f"image_block.{l}"] = f.detach()
        ref[f"image_dblock.{l}"] = 0.1 * r
    ref["grad.image"] = img.grad.detach().clone()
    for n, v in P.items():
        if n.startswith("visual."):
            ref["grad." + n] = v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v)
        v.grad = None
    # the embedding term alone (no feature gradients): the image gradient and
    # the top block's parameter gradients
    img.grad = None
    (encode_image(P, tiny, img) * r_img).sum().backward()
    ref["grademb.image"] = img.grad.detach().clone()
    top = "visual.transformer.resblocks.%d." % (tiny["v_layers"] - 1)
    for n, v in P.items():
        if n.startswith(top) or n in ("visual.proj", "visual.ln_post.weight"):
            ref["grademb." + n] = v.grad.detach().clone()
        v.grad = None
    temb = encode_text(P, tiny, ids)
    r_txt = torch.randn_like(temb)
    (temb * r_txt).sum().backward()
    ref["text_emb"] = temb.detach()
    ref["text_demb"] = r_txt
    for n, v in P.items():
        if not n.startswith("visual."):
            ref["grad." + n] = v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v)
    Pd = {k: v.detach().clone().contiguous() for k, v in P.items()}
    heads = {"v_heads": tiny["v_heads"], "t_heads": tiny["t_heads"]}
    write_safetensors(os.path.join(OUT, "tiny_openai.safetensors"), Pd, heads)
    H = to_hf(Pd, tiny)
    write_safetensors(os.path.join(OUT, "tiny_hf.safetensors"), H)
    torch.save(H, os.path.join(OUT, "tiny_hf.bin"))
    # Hugging Face keeps the head counts in config.json beside the weights
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({"vision_config": {"num_attention_heads": tiny["v_heads"], "hidden_size": tiny["v_width"]},
                   "text_config": {"num_attention_heads": tiny["t_heads"], "hidden_size": tiny["t_width"]},
                   "projection_dim": tiny["embed"]}, f, indent=1)
    write_safetensors(os.path.join(OUT, "tiny_ref.safetensors"), ref)

    # full-size ViT-B/32 with closed-form weights: one image, image tower only
    b32 = dict(image=224, patch=32, v_width=768, v_layers=12, v_heads=12, context=77, vocab=49408,
               t_width=512, t_layers=12, t_heads=8, embed=512)
    with torch.no_grad():
        Pb = make_params(b32, closed_form)
        fb = []
        e = encode_image(Pb, b32, cf_image(224), fb)
        ids = torch.zeros(1, 77, dtype=torch.int64)
        ids[0, :6] = torch.tensor([49406, 320, 2368, 539, 320, 49407])  # arbitrary ids, EOT last
        te = encode_text(Pb, b32, ids)
    write_safetensors(os.path.join(OUT, "b32_ref.safetensors"), {
        "image_emb": e, "block0_cls": fb[0][:, 0, :].contiguous(), "block11_cls": fb[11][:, 0, :].contiguous(),
        "text_ids": ids.to(torch.float32), "text_emb": te})
    print("wrote", sorted(os.listdir(OUT)))

if __name__ == "__main__":
    main()
