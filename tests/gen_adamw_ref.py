#!/usr/bin/python3
"""gen_adamw_ref.py - PyTorch reference for the training core (common/nn/adamw.c,
common/nn/lr.c, common/params.c), written once into tests/fixtures/train/.

  adamw_ref.safetensors
    Two AdamW runs on five small tensors -- "w1" (4,5) and "w2" (2,3,2,2)
    with weight decay, "b" (5), "embed" (6,3) and the scalar "s" without (two
    torch param groups, amsgrad off) -- with random gradients of mixed scales
    (some exact zeros, some tiny, so eps matters):
      run a: lr 1e-2, betas (0.9, 0.999), eps 1e-8, weight_decay 0.1, constant lr
      run b: lr 3e-2, betas (0.8, 0.99), eps 1e-6, weight_decay 0.5, lr from
             CosineAnnealingLR(T_max=6, eta_min=1e-3), i.e. the C schedule
             "cosine:lr=0.03,total=6,min=0.001"
    Tensors: <run>.init.<name>, <run>.grad.<k>.<name>, <run>.after.<k>.<name>
    (params after step k+1), <run>.m.<name>, <run>.v.<name> (after the last
    step).  Metadata: each run's hyper-parameters and step count.
    clip_grad_norm_ on the same five tensors: clip.grad.<name> in,
    clip.out.<name> after clipping to max_norm 1.0, clip.norm (returned
    norm); noclip.* the same with max_norm 1e3 (no change).
  lr_ref.safetensors
    lr.<case> (F64, K values): the learning rate at updates 0..K-1 for each
    schedule; metadata spec.<case> is the C spec string.  torch schedulers
    where a twin exists (LinearLR, CosineAnnealingLR, StepLR, ConstantLR),
    LambdaLR with the llm.c warmup formula otherwise.

Run: /usr/bin/python3 tests/gen_adamw_ref.py   (needs Debian's python3-torch; CI does not)
"""
import math, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402  (the shared safetensors writer)
import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "train")


def write_safetensors(path, tensors, metadata):
    """numpy tensors as they are, with __metadata__ (tests/st_write.py)."""
    st_write.write_safetensors(path, tensors, metadata)


SHAPES = [("w1", (4, 5), True), ("w2", (2, 3, 2, 2), True), ("b", (5,), False), ("embed", (6, 3), False),
          ("s", (), False)]


def grads(gen, k):
    """Gradients for step k: mixed scales, a few exact zeros and tiny values."""
    out = {}
    for i, (name, shape, _) in enumerate(SHAPES):
        g = torch.randn(shape, generator=gen) * (10.0 ** ((i + k) % 3 - 1))
        if g.dim() and g.numel() > 3:
            flat = g.view(-1)
            flat[(k + i) % flat.numel()] = 0.0
            flat[(k + 2 * i + 1) % flat.numel()] *= 1e-7
        out[name] = g
    return out


def adamw_run(tag, lr, betas, eps, wd, steps, sched, gen, T, meta):
    params = {name: torch.nn.Parameter(torch.randn(shape, generator=gen)) for name, shape, _ in SHAPES}
    for name, p in params.items():
        T[f"{tag}.init.{name}"] = p.detach().numpy().copy()
    groups = [
        {"params": [params[n] for n, _, d in SHAPES if d], "weight_decay": wd},
        {"params": [params[n] for n, _, d in SHAPES if not d], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, amsgrad=False)
    sch = sched(opt) if sched else None
    for k in range(steps):
        g = grads(gen, k)
        for name, p in params.items():
            p.grad = g[name].clone()
            T[f"{tag}.grad.{k}.{name}"] = g[name].numpy().copy()
        opt.step()
        if sch:
            sch.step()
        for name, p in params.items():
            T[f"{tag}.after.{k}.{name}"] = p.detach().numpy().copy()
    for name, p in params.items():
        st = opt.state[p]
        T[f"{tag}.m.{name}"] = st["exp_avg"].numpy().copy()
        T[f"{tag}.v.{name}"] = st["exp_avg_sq"].numpy().copy()
    meta.update({f"{tag}.lr": repr(lr), f"{tag}.beta1": repr(betas[0]), f"{tag}.beta2": repr(betas[1]),
                 f"{tag}.eps": repr(eps), f"{tag}.weight_decay": repr(wd), f"{tag}.steps": str(steps)})


def clip_case(tag, max_norm, gen, T):
    ps = []
    for name, shape, _ in SHAPES:
        p = torch.nn.Parameter(torch.zeros(shape))
        p.grad = torch.randn(shape, generator=gen) * 0.7
        T[f"{tag}.grad.{name}"] = p.grad.numpy().copy()
        ps.append((name, p))
    norm = torch.nn.utils.clip_grad_norm_([p for _, p in ps], max_norm)
    for name, p in ps:
        T[f"{tag}.out.{name}"] = p.grad.numpy().copy()
    T[f"{tag}.norm"] = np.array([float(norm)], dtype=np.float64)


def lr_cases():
    """(case, C spec, base lr, steps, torch scheduler factory or lambda)"""
    def warm_cos(base, W, Tt, mn):
        def f(k):
            if k < W:
                return (k + 1) / W
            r = min(1.0, (k - W) / (Tt - W))
            return (mn + (base - mn) * 0.5 * (1 + math.cos(math.pi * r))) / base
        return f

    def warm_lin(base, W, Tt, mn):
        def f(k):
            if k < W:
                return (k + 1) / W
            r = min(1.0, (k - W) / (Tt - W))
            return (base + (mn - base) * r) / base
        return f

    def warm_step(W, every, gamma):
        return lambda k: (k + 1) / W if k < W else gamma ** ((k - W) // every)

    S = torch.optim.lr_scheduler
    return [
        ("constant", "constant", 0.01, 12, lambda o: S.ConstantLR(o, factor=1.0, total_iters=0)),
        ("linear", "linear:min=1e-4", 0.1, 25, lambda o: S.LinearLR(o, 1.0, 1e-4 / 0.1, total_iters=20)),
        ("cosine", "cosine:min=1e-5", 3e-4, 101, lambda o: S.CosineAnnealingLR(o, T_max=100, eta_min=1e-5)),
        ("cosine0", "cosine", 1.0, 17, lambda o: S.CosineAnnealingLR(o, T_max=16)),
        ("step", "step:every=7,gamma=0.5", 0.2, 30, lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
        ("warmup_cosine", "cosine:warmup=10,min=1e-5", 6e-4, 60,
         lambda o: S.LambdaLR(o, warm_cos(6e-4, 10, 50, 1e-5))),
        ("warmup_linear", "linear:warmup=5,total=30,min=0", 0.05, 40,
         lambda o: S.LambdaLR(o, warm_lin(0.05, 5, 30, 0.0))),
        ("warmup_step", "step:warmup=4,every=3,gamma=0.9", 0.1, 20, lambda o: S.LambdaLR(o, warm_step(4, 3, 0.9))),
        ("warmup_constant", "constant:warmup=8", 0.3, 12, lambda o: S.LambdaLR(o, lambda k: (k + 1) / 8 if k < 8 else 1.0)),
    ]


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(1234)
    T, meta = {}, {"producer": "tests/gen_adamw_ref.py", "torch": torch.__version__}
    adamw_run("a", 1e-2, (0.9, 0.999), 1e-8, 0.1, 5, None, gen, T, meta)
    adamw_run("b", 3e-2, (0.8, 0.99), 1e-6, 0.5, 6,
              lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6, eta_min=1e-3), gen, T, meta)
    meta["b.spec"] = "cosine:lr=0.03,total=6,min=0.001"
    clip_case("clip", 1.0, gen, T)
    clip_case("noclip", 1e3, gen, T)
    write_safetensors(os.path.join(OUT, "adamw_ref.safetensors"), T, meta)

    L, lmeta = {}, {"producer": "tests/gen_adamw_ref.py", "torch": torch.__version__}
    cases = lr_cases()
    for case, spec, base, steps, mk in cases:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=base)
        sch = mk(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sch.step()
        L[f"lr.{case}"] = np.array(lrs, dtype=np.float64)
        lmeta[f"spec.{case}"] = spec
        lmeta[f"base.{case}"] = repr(base)
    # the default total for schedules that do not say it (the trainer's --steps)
    lmeta["total.linear"], lmeta["total.cosine"], lmeta["total.cosine0"] = "20", "100", "16"
    lmeta["total.warmup_cosine"] = "50"
    lmeta["cases"] = ",".join(c[0] for c in cases)
    write_safetensors(os.path.join(OUT, "lr_ref.safetensors"), L, lmeta)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
