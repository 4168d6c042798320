#!/bin/bash
# `bash benchmarks/gpu.sh OUT_DIR`: the figures worth taking on a machine with an accelerator, in one go,
# each step under its own time limit so one that hangs leaves the rest measured. Writes logs and
# bench-gpu.json into OUT_DIR. Steps: the whole `train.py --seed 0` process with a cold compilation cache,
# then 3 with a warm one (the time a user waits); seeds per minute for 1 to 256 seeds in one program, 8
# among them (python -m benchmarks --sections seeds); the Two Rooms recipe on 3 seeds; its planners'
# success and seconds per episode on those runs; a steer run's planning batch widths
# (python -m benchmarks.planning_batches). QUICK=1 shrinks every size, to check the script on a CPU.
# It writes at most 8 files, as many as a lent machine returns.
set -u
out=${1:?usage: bash benchmarks/gpu.sh OUT_DIR}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TQDM_DISABLE=1
py=${PYTHON:-python3}
scratch=$(mktemp -d)
cache=$scratch/xla-cache
TIMEFORMAT='whole process %R s'
if [ "${QUICK:-0}" = 1 ]; then
  small="--steps 50 --decoder-steps 20" counts=1,2 quick=--quick episodes=8
  rooms_small="--steps 30 --decoder-steps 10 --train-sequences 64"
else
  small="" counts=1,4,8,16,64,256 quick="" episodes=200 rooms_small=""
fi
$py -c "import jax; print('jax', jax.__version__, jax.devices())"
echo "== train.py --seed 0, cold compilation cache"
time JAXJEPA_CACHE=$cache timeout 120 $py train.py --seed 0 --out "$scratch/cold" $small >"$out/train_cold.log" 2>&1
grep -E "wall time|probe" "$out/train_cold.log"
for i in 1 2 3; do
  echo "== train.py --seed 0, warm cache, $i of 3"
  time JAXJEPA_CACHE=$cache timeout 60 $py train.py --seed 0 --out "$scratch/warm$i" $small >>"$out/train_warm.log" 2>&1
  tail -n 8 "$out/train_warm.log" | grep -E "wall time"
done
echo "== seeds per minute, $counts seeds"
timeout 240 $py -m benchmarks --sections seeds --seed-counts $counts $quick --out "$out/bench-gpu.json" \
  >"$out/bench.log" 2>&1
tail -8 "$out/bench.log"
echo "== two_rooms_ebjepa, 3 seeds in one program"
JAXJEPA_CACHE=$cache timeout 240 $py train.py --config two_rooms_ebjepa --seeds 0-2 --out "$scratch/rooms" \
  $rooms_small \
  >"$out/two_rooms.log" 2>&1
grep -E "wall time|probe" "$out/two_rooms.log"
echo "== Two Rooms planning"
timeout 180 $py -m benchmarks.two_rooms_seconds "$scratch"/rooms/seed{0,1,2} --episodes $episodes 2>&1 \
  | tee "$out/plan.log"
echo "== steer planning, episodes vmapped at a time"
JAXJEPA_CACHE=$cache timeout 120 $py train.py --config steer --seed 0 --out "$scratch/steer" $small \
  >"$out/steer.log" 2>&1
timeout 180 $py -m benchmarks.planning_batches "$scratch/steer/seed0" --widths 16,64,128,all 2>&1 \
  | tee "$out/batches.log"
rm -rf "$scratch"
