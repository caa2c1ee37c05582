#!/usr/bin/python3
"""torch_adamw.py - the PyTorch peer for bench/train_bench.c: the same
per-step block work on the same tensors (the file train_bench --shapes
writes: "name decay d0 d1 ..." per line), in the way a PyTorch trainer does
it on a CPU: opt.zero_grad(set_to_none=False), clip_grad_norm_(1.0),
AdamW.step() with two parameter groups (decay / no decay), and a NaN/Inf
check of every gradient (torch.isfinite(g).all()); then torch.save + load of
{model, optimizer} state dicts.  Single-tensor and foreach AdamW are both
timed.  torch.set_num_threads(THREADS, default 2).

    torch_adamw.py SHAPES [reps]
Output: "name value unit" lines, as train_bench.
"""
import os, statistics, sys, tempfile, time
import torch


def main():
    path = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    threads = int(os.environ.get("TRAIN_THREADS", "2"))
    torch.set_num_threads(threads)
    params, decay = [], []
    for line in open(path):
        f = line.split()
        shape = [int(x) for x in f[2:]]
        p = torch.nn.Parameter(torch.rand(shape) - 0.5)
        p.grad = torch.zeros(shape)
        params.append(p)
        decay.append(f[1] == "1")
    n = sum(p.numel() for p in params)
    print(f"floats {n} count")
    print(f"tensors {len(params)} count")
    print(f"threads {threads} count")
    for foreach in (False, True):
        groups = [{"params": [p for p, d in zip(params, decay) if d], "weight_decay": 0.1},
                  {"params": [p for p, d in zip(params, decay) if not d], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=1e-4, foreach=foreach)
        tz, tc, ta, tn = [], [], [], []
        for k in range(reps + 1):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=False)
            t1 = time.perf_counter()
            for p in params:
                p.grad.view(-1)[::7] = 1e-3
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            t3 = time.perf_counter()
            opt.step()
            t4 = time.perf_counter()
            ok = all(bool(torch.isfinite(p.grad).all()) for p in params)
            t5 = time.perf_counter()
            assert ok
            if k:
                tz.append(t1 - t0), tc.append(t3 - t2), ta.append(t4 - t3), tn.append(t5 - t4)
        tag = "foreach" if foreach else "single"
        print(f"zero_grad {1e3 * statistics.median(tz):.2f} ms")
        print(f"clip_grad_norm {1e3 * statistics.median(tc):.2f} ms")
        print(f"adamw_step_{tag} {1e3 * statistics.median(ta):.2f} ms")
        print(f"nonfinite_scan {1e3 * statistics.median(tn):.2f} ms")
    fd, ck = tempfile.mkstemp(suffix=".pt")
    os.close(fd)
    state = {"model": {str(i): p.detach() for i, p in enumerate(params)}, "optim": opt.state_dict()}
    t0 = time.perf_counter()
    torch.save(state, ck)
    t1 = time.perf_counter()
    back = torch.load(ck)
    for i, p in enumerate(params):
        p.data.copy_(back["model"][str(i)])
    opt.load_state_dict(back["optim"])
    t2 = time.perf_counter()
    os.unlink(ck)
    print(f"ckpt_save {1e3 * (t1 - t0):.2f} ms")
    print(f"ckpt_load {1e3 * (t2 - t1):.2f} ms")


if __name__ == "__main__":
    main()
