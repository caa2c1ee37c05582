#!/bin/sh
# pipelines/shard.sh - run a per-record command over a sketch NDJSON stream in
# parallel jobs (GNU parallel --pipe --keep-order), on this machine or several.
#
#   pipelines/shard.sh [-j JOBS] [-S HOSTS] [-n RECORDS] [-t THREADS] -- COMMAND < in.ndjson > out
#
#   -j JOBS     jobs per host (default: online cores of this machine)
#   -S HOSTS    GNU parallel --sshlogin list, e.g. ':,8/user@node1,8/user@node2'
#               (':' is this machine; N/host runs N jobs there).  The remote
#               hosts need the tools in the same PATH and the same data/models.
#   -n RECORDS  records per chunk handed to one job (default 256)
#   -t THREADS  exported as INVCLIP_SHARD_THREADS for COMMAND to pass as -j (default 1)
#
# COMMAND is a shell command line run once per chunk, reading records on stdin
# and writing its output (NDJSON or a PNG stream) on stdout; --keep-order puts
# the chunks' outputs back in input order.  Because every tool seeds its random
# draws from (--seed, key_id) and never from a record's position, the result is
# the same as one process running COMMAND over the whole stream (tests/cli/shard.sh),
# except for position tags: rasterize's PNG "line" chunk and clip-embed's
# "index" count from the start of each chunk.  docs/scale-out.md has the recipes.
set -eu
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
hosts=
n=256
threads=1
while getopts j:S:n:t:h opt; do
  case $opt in
    j) jobs=$OPTARG ;;
    S) hosts=$OPTARG ;;
    n) n=$OPTARG ;;
    t) threads=$OPTARG ;;
    h) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "shard.sh: usage: shard.sh [-j JOBS] [-S HOSTS] [-n RECORDS] [-t THREADS] -- COMMAND" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { echo "shard.sh: no COMMAND given (shard.sh -h for help)" >&2; exit 2; }
command -v parallel >/dev/null 2>&1 || { echo "shard.sh: GNU parallel is not installed (apt-get install parallel)" >&2; exit 3; }
parallel --version 2>/dev/null | grep -q 'GNU parallel' || { echo "shard.sh: 'parallel' is not GNU parallel (moreutils has another)" >&2; exit 3; }
export INVCLIP_SHARD_THREADS="$threads"
# --halt now,fail=1: the first failing chunk stops the run with its exit code.
# Each job drains what is left of its chunk after COMMAND ends: a command that
# fails before reading its input (a bad option) would otherwise close the pipe
# parallel is still writing the chunk into, and parallel then dies of SIGPIPE
# (exit 141) instead of reporting the command's exit code (seen in about a
# third of the runs of tests/cli/shard.sh's failing job).
set -- "$*
rc=\$?; cat >/dev/null; exit \$rc"
if [ -n "$hosts" ]; then
  # remote jobs get PATH, the shard thread count and the INVCLIP_* variables that are set here
  set -- "$*" --env PATH --env INVCLIP_SHARD_THREADS
  for v in INVCLIP_MODEL INVCLIP_PLUGIN_PATH INVCLIP_DATA; do eval "[ -n \"\${$v:-}\" ]" && set -- "$@" --env "$v"; done
  cmd=$1; shift
  exec parallel --pipe --keep-order --halt now,fail=1 -N "$n" -j "$jobs" --sshlogin "$hosts" --workdir . "$@" -- "$cmd"
fi
exec parallel --pipe --keep-order --halt now,fail=1 -N "$n" -j "$jobs" -- "$*"
