# tests/cli/mpi.sh - data-parallel training over MPI (bin/*-mpi, docs/scale-out.md):
# with the same global batch and seed, `mpirun -np 2` matches the one-process
# run after 20 steps -- every tensor of the checkpoint (weights and AdamW
# moments) within 1e-4 relative, the logged loss the same -- for
# sketch-score --train (synchronised batch norm, dropout), clip-train
# (InfoNCE over the gathered global batch) and unet-train (batch norm
# synchronised, with the GAN and dropout; the conv biases that feed a normalisation are left out: their
# gradient is exactly 0, so AdamW turns float noise into steps and they have
# no effect on any output), and a run with another seed does not match (the
# comparison can fail); a one-process checkpoint resumes on 2 ranks and a
# 2-rank checkpoint on 1 rank, matching the uninterrupted run; a rank killed
# mid-run ends the run (non-zero exit) with rank 0 naming the last
# checkpoint, which is whole and resumes.  Skips, saying so, when the MPI
# programs were not built (no Open MPI) or mpirun is absent.  Sourced by tests/run.sh.
if [ ! -x "$BIN/sketch-score-mpi" ] || [ ! -x "$BIN/clip-train-mpi" ] || [ ! -x "$BIN/unet-train-mpi" ] ||
   ! command -v mpirun >/dev/null 2>&1; then
  echo "# SKIP mpi: Open MPI not found at build time or no mpirun (apt-get install libopenmpi-dev openmpi-bin); data-parallel training not tested"
  ok "mpi: skipped, Open MPI absent"
  return 0 2>/dev/null || exit 0
fi
# containers: shared memory without CMA, no network needed; root needs the flag
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
MPI="mpirun --oversubscribe --mca btl self,vader -np 2"
[ "$(id -u)" = 0 ] && MPI="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -np 2"
MPI1=$(echo "$MPI" | sed 's/-np 2/-np 1/')

for w in apple car fish; do gzip -dc "data/quickdraw/simplified/$w.ndjson.gz"; done >"$T/three.ndjson"
gzip -dc data/quickdraw/simplified/fish.ndjson.gz | head -20 | qd-degrade --seed 1 >"$T/pairs.ndjson"

cat >"$T/cmp.py" <<'PY'
# cmp.py A.safetensors B.safetensors TOL [SKIP-REGEX]: every F32 tensor within TOL*(1+|b|)
import json, re, struct, sys
def load(p):
    d = open(p, 'rb').read(); n, = struct.unpack('<Q', d[:8]); h = json.loads(d[8:8+n]); base = 8 + n; out = {}
    for k, v in h.items():
        if k == '__metadata__': continue
        a, b = v['data_offsets']; raw = d[base+a:base+b]
        out[k] = struct.unpack('<%df' % (len(raw)//4), raw) if v['dtype'] == 'F32' else raw
    return out
a = load(sys.argv[1]); b = load(sys.argv[2]); tol = float(sys.argv[3])
skip = re.compile(sys.argv[4]) if len(sys.argv) > 4 else None
bad = []; worst = 0.0; n = 0
if a.keys() != b.keys(): bad.append('names differ')
for k in a:
    if k not in b or (skip and skip.search(k)): continue
    n += 1
    if isinstance(a[k], bytes):
        if a[k] != b[k]: bad.append(k)
        continue
    for p, q in zip(a[k], b[k]):
        worst = max(worst, abs(p - q))
        if abs(p - q) > tol * (1 + abs(q)): bad.append('%s: %g vs %g' % (k, p, q)); break
print('%s %d %.3g %s' % ('same' if not bad else 'differ', n, worst, '; '.join(bad[:3])))
PY
# match NAME DIR1 DIR2 [SKIP-REGEX]
match() {
  r=$(python3 "$T/cmp.py" "$2/checkpoint.safetensors" "$3/checkpoint.safetensors" 1e-4 ${4:+"$4"} 2>&1)
  case $r in same*) ok "$1: 2 ranks = 1 process after 20 steps (tensors, worst |diff|: $r)" ;; *) notok "$1: 2 ranks = 1 process" "$r" ;; esac
}
loss_of() { grep -o "\"$2\":[-0-9.e]*" "$1/log.ndjson" | tail -1 | cut -d: -f2; }

# --- sketch-score --train (batch norm, dropout) ---
SS="--image-size 32 --channels 8,16 -j 1 --batch 8 --steps 20 --eval-every 20 --seed 3"
sketch-score --train -o "$T/s1" $SS "$T/three.ndjson" 2>/dev/null
$MPI sketch-score-mpi --train -o "$T/s2" $SS "$T/three.ndjson" 2>"$T/s2.err"
eq "sketch-score-mpi -np 2: exit 0" "$?" 0
grep -q "data-parallel over 2 ranks" "$T/s2.err" && ok "sketch-score-mpi says it runs on 2 ranks" || notok "2 ranks announced" "$(head -5 "$T/s2.err")"
match "sketch-score --train" "$T/s1" "$T/s2"
eq "sketch-score: the logged loss is the same" "$(loss_of "$T/s2" loss)" "$(loss_of "$T/s1" loss)"
$MPI sketch-score-mpi --train -o "$T/s3" $(echo "$SS" | sed 's/--seed 3/--seed 4/') "$T/three.ndjson" 2>/dev/null
r=$(python3 "$T/cmp.py" "$T/s1/checkpoint.safetensors" "$T/s3/checkpoint.safetensors" 1e-4)
case $r in differ*) ok "another seed does not match (the comparison can fail)" ;; *) notok "another seed differs" "$r" ;; esac
expect_exit "a batch that does not split over the ranks is a usage error" 2 "does not split evenly over 2 ranks" \
  $MPI sketch-score-mpi --train -o "$T/s4" $(echo "$SS" | sed 's/--batch 8/--batch 7/') "$T/three.ndjson"

# --- clip-train (InfoNCE over the gathered batch) ---
CT="--width 64 --layers 2 --heads 2 --patch 8 --image-size 32 --text-width 64 --text-layers 1 --text-heads 1
    --embed 64 -j 1 --batch 8 --steps 20 --eval-every 20 --seed 2"
clip-train -o "$T/c1" $CT "$T/three.ndjson" 2>/dev/null
$MPI clip-train-mpi -o "$T/c2" $CT "$T/three.ndjson" 2>/dev/null
eq "clip-train-mpi -np 2: exit 0" "$?" 0
match "clip-train" "$T/c1" "$T/c2"
num_ok "clip-train: the logged loss agrees ($(loss_of "$T/c1" loss) vs $(loss_of "$T/c2" loss))" \
  "$(loss_of "$T/c1" loss) - $(loss_of "$T/c2" loss) < 1e-5 && $(loss_of "$T/c2" loss) - $(loss_of "$T/c1" loss) < 1e-5"

# --- unet-train (batch norm in both networks, GAN, dropout) ---
UT="--size 32 --base 4 --depth 5 --ndf 4 --batch 4 -j 1 --frame 32 --pad 2 --val-frac 0.25 --seed 3 --norm batch
    --steps 20 --eval-every 20"
unet-train -o "$T/u1" $UT "$T/pairs.ndjson" 2>/dev/null
$MPI unet-train-mpi -o "$T/u2" $UT "$T/pairs.ndjson" 2>/dev/null
eq "unet-train-mpi -np 2: exit 0" "$?" 0
match "unet-train" "$T/u1" "$T/u2" 'gen\.(enc[2-5]|dec[2-5])\.conv\.bias|disc\.layer[1-3]\.conv\.bias'
eq "unet-train: the held-out L1 is the same" "$(loss_of "$T/u2" val_l1)" "$(loss_of "$T/u1" val_l1)"

# --- resume across rank counts ---
SR="--image-size 32 --channels 8,16 -j 1 --batch 8 --steps 40 --save-every 10 --eval-every 40 --seed 5"
sketch-score --train -o "$T/r1" $SR "$T/three.ndjson" 2>/dev/null
sketch-score --train -o "$T/r2" $SR --stop-after 20 "$T/three.ndjson" 2>/dev/null
$MPI sketch-score-mpi --train -o "$T/r2" $SR --resume "$T/three.ndjson" 2>"$T/r2.err"
grep -q "resuming .* at step 20" "$T/r2.err" && ok "2 ranks resume a 1-process checkpoint at step 20" || notok "resume at 20 on 2 ranks" "$(head -5 "$T/r2.err")"
match "resumed on 2 ranks (1 -> 2)" "$T/r1" "$T/r2"

# --- a rank dies: clear message, last checkpoint whole, resume on 1 rank ---
SF=$(echo "$SR" | sed 's/--steps 40/--steps 4000/; s/--eval-every 40/--eval-every 4000/')
$MPI sketch-score-mpi --train -o "$T/f" $SF "$T/three.ndjson" >/dev/null 2>"$T/f.err" &
mp=$!
i=0; while [ ! -f "$T/f/checkpoint.safetensors" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
killed=
for p in $(ps -o pid= --ppid $mp); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && kill -9 "$p" && killed=$p
done
wait $mp; rc=$?
[ -n "$killed" ] && ok "rank 1 killed mid-run (pid $killed)" || notok "found rank 1 to kill" "$(ps -o pid,args --ppid $mp)"
num_ok "the run fails when a rank dies (exit $rc)" "$rc != 0"
grep -q "rank 0 of 2: .*the last checkpoint, .*checkpoint.safetensors (step [0-9]*), is intact: rerun with --resume" "$T/f.err" &&
  ok "rank 0 names the last checkpoint and --resume" || notok "rank 0's message" "$(tail -8 "$T/f.err")"
at=$(grep -o 'checkpoint.safetensors (step [0-9]*)' "$T/f.err" | grep -o '[0-9]*' | tail -1)
$MPI1 sketch-score-mpi --train -o "$T/f" $(echo "$SF" | sed 's/--steps 4000/--steps 4000 --stop-after 10/') --resume "$T/three.ndjson" 2>"$T/f2.err"
eq "the checkpoint left by the dead run resumes on 1 rank" "$?" 0
grep -q "resuming .* at step ${at:-none} " "$T/f2.err" && ok "resumed at the step rank 0 named ($at)" || notok "resumed at $at" "$(head -3 "$T/f2.err")"
