#!/usr/bin/env python3
"""bench/mpi_model.py - how data-parallel training scales to N machines: a
ring-allreduce cost model over measured inputs (docs/scale-out.md).

  python3 bench/mpi_model.py [--cores C]

Per trainer: t1 = seconds per step of the global batch B on ONE core
(measured: docs/benchmarks.md and the models' cards on a quiet core; bench/mpi.sh
here), the gradient messages per step (bytes; the flat gradient blocks), and
the small latency-bound collectives (the evaluator's batch-norm sums, CLIP's
embedding gather).  A machine has C cores and runs one rank with C threads
(or C ranks; the ring sees one member per machine either way when the
intra-machine reduction is hierarchical) and is assumed to scale linearly
over its cores (optimistic: makes the network look relatively worse, so the
limits below are upper bounds on useful N).

  T(N)  = t1 / B * ceil(B / (N C))                 compute: slices of the global batch
        + sum over messages m: 2 (N-1)/N * m / beta + 2 (N-1) alpha   ring allreduce
        + k_small * 2 (N-1) alpha                  latency-bound small collectives
        + gather: (N-1)/N * g / beta + (N-1) alpha
  speed-up S(N) = T(1) / T(N); efficiency S(N) / N.
No overlap of communication with the backward is assumed (the trainers
allreduce after it).  Links: TCP through Open MPI's tcp BTL, beta the
payload bandwidth, alpha the per-message latency.
"""
import argparse, math

LINKS = [("1 GbE", 117e6, 50e-6), ("10 GbE", 1.17e9, 20e-6), ("25 GbE", 2.9e9, 10e-6)]

# name, t1 (s/step on one core), global batch, allreduce bytes per step, small collectives, gather bytes
MODELS = [
    # shipped sketch CLIP: 8.38 M parameters -> 33.5 MB; 1.096 s/step on 1 thread (docs/benchmarks.md,
    # bench/clip_train.sh, quiet machine); gather: image + text unit embeddings, 2 x 128 x 128 floats
    ("clip-train (shipped, batch 128)", 1.096, 128, [33.52e6], 0, 2 * 128 * 128 * 4),
    # evaluator: 0.40 M parameters (1.60 MB); 3.8 steps/s on one thread (its model card) -> 0.263 s;
    # 4 batch-norm layers x 3 allreduces of <= 2 x 256 doubles; + the loss/hit counters
    ("sketch-score --train (shipped, batch 128)", 0.263, 128, [1.60e6], 4 * 3 + 1, 0),
    # unet-small: generator 1.83 M + PatchGAN: two allreduces (bench/mpi.sh: 4.01 MB on average -> 8.02 MB a step)
    ("unet-train (unet-small, batch 8)", None, 8, [7.3e6, 0.72e6], 1, 0),
]


def step_time(t1, B, msgs, small, gather, N, C, beta, alpha):
    t = t1 / B * math.ceil(B / (N * C))
    if N > 1:
        for m in msgs:
            t += 2 * (N - 1) / N * m / beta + 2 * (N - 1) * alpha
        t += small * 2 * (N - 1) * alpha
        if gather:
            t += (N - 1) / N * gather / beta + (N - 1) * alpha
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", type=int, default=8, help="cores per machine (default 8)")
    # unet-small: 1,368 steps in 125 s on 2 cores (its model card) -> 0.18 s on one
    ap.add_argument("--unet-t1", type=float, default=0.18, help="unet-train s/step on one core")
    a = ap.parse_args()
    Ns = [1, 2, 4, 8, 16, 32, 64]
    for name, t1, B, msgs, small, gather in MODELS:
        if t1 is None:
            t1 = a.unet_t1
        print("### %s: %.3f s a step on one core, %.1f MB of gradients a step, %d cores a machine\n"
              % (name, t1, sum(msgs) / 1e6, a.cores))
        print("| machines | " + " | ".join("%s steps/s (speed-up)" % l[0] for l in LINKS) + " |")
        print("|---|" + "---|" * len(LINKS))
        base = step_time(t1, B, msgs, small, gather, 1, a.cores, 1, 0)
        best = {}
        for N in Ns:
            cells = []
            for lname, beta, alpha in LINKS:
                t = step_time(t1, B, msgs, small, gather, N, a.cores, beta, alpha)
                cells.append("%.2f (%.1f×)" % (1 / t, base / t))
                if base / t > best.get(lname, (0, 0))[0]:
                    best[lname] = (base / t, N)
            print("| %d | %s |" % (N, " | ".join(cells)))
        print()
        for lname, beta, alpha in LINKS:
            ar = sum(2 * m / beta for m in msgs)
            print("- %s: the allreduce alone costs %.0f ms a step at large N; best speed-up %.1f× at %d machines"
                  % (lname, 1e3 * ar, best[lname][0], best[lname][1]))
        print("- the global batch caps useful cores at %d (one drawing a core): %d machines of %d cores"
              % (B, max(1, B // a.cores), a.cores))
        # weak scaling: every machine keeps the batch B, the global batch is N B
        cells = []
        for lname, beta, alpha in LINKS:
            row = []
            for N in (2, 8, 32):
                tc = step_time(t1, B, msgs, small, 0, 1, a.cores, 1, 0)
                t = step_time(t1, B, msgs, small, gather * N, N, a.cores, beta, alpha) - t1 / B * math.ceil(B / (N * a.cores)) + tc
                row.append("%d: %.0f%%" % (N, 100 * tc / t))
            cells.append("%s %s" % (lname, ", ".join(row)))
        print("- with a global batch of %d x N instead (each machine keeps %d), the efficiency at N machines: %s\n"
              % (B, B, "; ".join(cells)))


if __name__ == "__main__":
    main()
