#!/usr/bin/python3
"""gen_clip_train_ref.py - the PyTorch twin of two clip_trainer steps (common/clip_train.c).

One training step of CLIP as its paper describes it (Radford et al. 2021, fig. 3) and as
open_clip trains it, in plain PyTorch:
  image and text embeddings (tests/gen_clip_ref.py's functional CLIP, already checked
  against the C towers by test_clip), each L2-normalised;
  logits = exp(logit_scale) * img @ txt^T;
  loss = (cross_entropy(logits, arange B) + cross_entropy(logits^T, arange B)) / 2;
  loss.backward();
  torch.nn.utils.clip_grad_norm_(params, MAX_NORM)   (returns the pre-clip norm);
  torch.optim.AdamW(lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1) with two parameter
  groups: decay on the tensors with >= 2 dimensions whose OpenAI name does not contain
  "embed" (params.h's PARAM_DECAY_AUTO rule, restated here from its documentation), no
  decay on the others (biases, layer norms, logit_scale, class/positional/token embeddings);
  with torch.no_grad(): logit_scale.clamp_(max=ln 100).
Run twice (two batches), so the second step exercises AdamW's moments and bias correction.

The model: image 16, patch 4, vision width 32, 2 layers, 2 heads; text context 8, vocabulary
64 (start 62, end 63), width 32, 2 layers, 2 heads; embedding 16.  Initial weights are
gen_clip_ref.closed_form (= C's clip_params_closed_form), except logit_scale = 4.7, above
the clamp, so the first step's clamp is exercised whatever the sign of its gradient.

Writes tests/fixtures/clip_train/ref.safetensors (F32, OpenAI names):
  image.<k> (4,3,16,16), ids.<k> (4,8) (token ids as floats), k = 0, 1
  loss.<k> (), gnorm.<k> ()  the InfoNCE loss and the gradient norm before clipping
  grad.<k>.<name>            every parameter's gradient of step k, before clipping
  after.<k>.<name>           every parameter after step k's update and clamp
  __metadata__: the config and hyper-parameters (lr, betas, eps, weight_decay, max_norm,
                logit_scale_init), and decay.<name> = 0/1 for every tensor
Run: /usr/bin/python3 tests/gen_clip_train_ref.py   (Debian's python3-torch; CI only reads the fixture)
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_clip_ref as ref  # noqa: E402  (the functional CLIP and closed_form)
import st_write  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "clip_train")
CFG = dict(image=16, patch=4, v_width=32, v_layers=2, v_heads=2, context=8, vocab=64,
           t_width=32, t_layers=2, t_heads=2, embed=16)
B = 4
LR, BETAS, EPS, WD, MAX_NORM = 1e-3, (0.9, 0.98), 1e-6, 0.1, 1.0
LOGIT_SCALE_INIT = 4.7
STEPS = 2


def decays(name, t):
    return t.dim() >= 2 and "embed" not in name


def batch(gen):
    img = torch.randn(B, 3, CFG["image"], CFG["image"], generator=gen)
    V, C = CFG["vocab"], CFG["context"]
    ids = torch.zeros(B, C, dtype=torch.int64)
    for b in range(B):
        n = int(torch.randint(1, C - 1, (1,), generator=gen))  # words: end token at n + 1 <= C - 1
        ids[b, 0] = V - 2
        ids[b, 1:n + 1] = torch.randint(1, V - 2, (n,), generator=gen)
        ids[b, n + 1] = V - 1
    return img, ids


def clip_loss(P, img, ids):
    ie = ref.encode_image(P, CFG, img)
    te = ref.encode_text(P, CFG, ids)
    ie = ie / ie.norm(dim=-1, keepdim=True)
    te = te / te.norm(dim=-1, keepdim=True)
    logits = P["logit_scale"].exp() * ie @ te.t()
    lab = torch.arange(img.shape[0])
    return (F.cross_entropy(logits, lab) + F.cross_entropy(logits.t(), lab)) / 2


def main():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(20261205)
    P = ref.make_params(CFG, ref.closed_form)
    P["logit_scale"] = torch.tensor(LOGIT_SCALE_INIT, dtype=torch.float32)
    names = list(P)
    for v in P.values():
        v.requires_grad_(True)
    dec = [P[n] for n in names if decays(n, P[n])]
    nodec = [P[n] for n in names if not decays(n, P[n])]
    opt = torch.optim.AdamW([{"params": dec, "weight_decay": WD}, {"params": nodec, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    out = {}
    meta = {"lr": repr(LR), "beta1": repr(BETAS[0]), "beta2": repr(BETAS[1]), "eps": repr(EPS),
            "weight_decay": repr(WD), "max_norm": repr(MAX_NORM), "logit_scale_init": repr(LOGIT_SCALE_INIT),
            "steps": str(STEPS), "batch": str(B)}
    meta.update({"cfg." + k: str(v) for k, v in CFG.items()})
    meta.update({"decay." + n: str(int(decays(n, P[n]))) for n in names})
    for k in range(STEPS):
        img, ids = batch(gen)
        opt.zero_grad(set_to_none=False)
        loss = clip_loss(P, img, ids)
        loss.backward()
        for n in names:
            out["grad.%d.%s" % (k, n)] = P[n].grad.detach().clone()
        gnorm = torch.nn.utils.clip_grad_norm_([P[n] for n in names], MAX_NORM)
        opt.step()
        with torch.no_grad():
            P["logit_scale"].clamp_(max=math.log(100))
        for n in names:
            out["after.%d.%s" % (k, n)] = P[n].detach().clone()
        out["image.%d" % k] = img
        out["ids.%d" % k] = ids.to(torch.float32)
        out["loss.%d" % k] = loss.detach().reshape(())
        out["gnorm.%d" % k] = gnorm.detach().reshape(())
        print("step %d: loss %.6f, grad norm %.6f (clipped to %g), logit_scale %.6f"
              % (k + 1, loss.item(), gnorm.item(), MAX_NORM, P["logit_scale"].item()))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "ref.safetensors")
    st_write.write_safetensors(path, out, meta, as_f32=True)
    print("wrote %s (%d bytes, %d tensors)" % (path, os.path.getsize(path), len(out)))


if __name__ == "__main__":
    main()
