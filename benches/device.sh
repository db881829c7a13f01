#!/bin/bash
# One prepared run on a machine with a hardware GPU, for the `device` tool's 15 minutes:
# brine's training step beside PyTorch's on the same GPU, then the inversion recipe at GPU
# scale (synthesis on the GPU sized by a measured rate, training for a time budget, eval on
# 256 held-out samples beside the shipped model). Every stage has its own time limit and
# its log lands in $OUT, so a stage that fails or runs long costs only its own numbers.
#
#   benches/device.sh prepare     # here: release build, binary and PyTorch anchor into .carry/,
#                                 # Vulkan loader packages into .gl/ (both git-ignored)
#   benches/device.sh run         # there, in the repository root (carry .carry and .gl):
#     for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; benches/device.sh run
#
# Sizes and limits (seconds) come from the environment; the defaults fit one 600 s command:
#   BACKEND=gpu WIDTHS=16,32,64,128 TRAIN_S=170 SYNTH_S=80 MAX_TRAIN=20000 TEST=256
#   BATCH=16 LR=2e-3 PRESET=openfwi PILOT=250 (samples timed for the rate; also the file size)
#   BENCH_ARGS= (extra flags for `brine bench step`: its default shapes are PyTorch's "bench")
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
carry=$here/.carry

prepare() {
    set -e
    cd "$here"
    cargo build --release
    mkdir -p "$carry"
    cp target/release/brine "$carry/"
    cp ../shared/reference/torch_step_bench.py ../shared/reference/attn_unet.py "$carry/"
    mkdir -p .gl /tmp/amd64/partial
    local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
    du -sh "$carry" .gl
}

run() {
    local out=${OUT:-$here/device-out}
    local backend=${BACKEND:-gpu} widths=${WIDTHS:-16,32,64,128} train_s=${TRAIN_S:-170}
    local synth_s=${SYNTH_S:-80} max_train=${MAX_TRAIN:-20000} test=${TEST:-256}
    local batch=${BATCH:-16} lr=${LR:-2e-3} preset=${PRESET:-openfwi} pilot_n=${PILOT:-250}
    local brine=${BRINE:-$carry/brine} work=${WORK:-/tmp/brine-device}
    rm -rf "$work"
    mkdir -p "$out" "$work"
    local summary=$out/summary.txt
    : > "$summary"
    note() { echo "$*" | tee -a "$summary"; }
    # stage NAME LIMIT CMD...: runs CMD with a time limit, its output in $work/NAME.log.
    stage() {
        local name=$1 limit=$2
        shift 2
        local t0=$SECONDS
        timeout "$limit" "$@" > "$work/$name.log" 2>&1
        local rc=$?
        note "stage $name: exit $rc, $((SECONDS - t0)) s (limit $limit s)"
        [ $rc = 0 ] || grep -v XDG_RUNTIME_DIR "$work/$name.log" | tail -2 | sed 's/^/    /' >> "$summary"
        return $rc
    }
    note "brine device run: $(date -u +%FT%TZ), backend $backend"
    command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$summary"

    # 1. The training step, brine then PyTorch on the same GPU (PyTorch's --quick: fp32, tf32).
    # shellcheck disable=SC2086
    stage bench_step 90 "$brine" bench step --backend "$backend" --attention cbam --iters 10 ${BENCH_ARGS:-}
    grep -E "adapter|ms per step|inference|dispatch|submission" "$work/bench_step.log" >> "$summary"
    stage torch_step 90 python3 "$carry/torch_step_bench.py" --quick
    grep -E "^(device|bench) " "$work/torch_step.log" >> "$summary"

    # 2. Synthesis rate on a pilot file, then a training set sized to SYNTH_S at that rate.
    local pilot=$work/pilot
    local t0=$SECONDS
    stage synth_pilot 60 "$brine" synth --preset "$preset" --count "$pilot_n" --per-file "$pilot_n" --seed 5 \
        --backend "$backend" --quiet --out "$pilot"
    local pilot_s=$((SECONDS - t0 > 0 ? SECONDS - t0 : 1))
    local rate=$((pilot_n / pilot_s))
    note "synthesis: about $rate samples/s ($pilot_n in $pilot_s s, start-up included)"
    local n=$((rate * synth_s))
    n=$((n > max_train ? max_train : n))
    n=$((n / pilot_n * pilot_n))
    n=$((n < 2 * pilot_n ? 2 * pilot_n : n))
    stage synth_test $((synth_s / 2 + 30)) "$brine" synth --preset "$preset" --count "$test" --per-file "$test" \
        --seed 99 --backend "$backend" --quiet --out "$work/test"
    local train=$work/train
    if ! stage synth_train $((synth_s * 2)) "$brine" synth --preset "$preset" --count "$n" --per-file "$pilot_n" \
        --seed 7 --backend "$backend" --quiet --out "$train"; then
        # Ran past its limit (the rate was misjudged): train on the pilot rather than nothing.
        train=$pilot n=$pilot_n
    fi
    note "training set: $n samples ($preset, wide salt, $(basename "$train")); test: $test samples (seed 99)"

    # 3. The recipe for TRAIN_S seconds, then both networks on the test set.
    stage train $((train_s + 90)) "$brine" train --data "$train" --attention cbam --gates --widths "$widths" \
        --seconds "$train_s" --batch "$batch" --lr "$lr" --schedule cosine --loss l1 --backend "$backend" \
        --out "$work/run"
    tail -3 "$work/train.log" >> "$summary"
    stage eval 60 "$brine" eval --checkpoint "$work/run/best.safetensors" --data "$work/test" \
        --backend "$backend" --out "$work/eval"
    grep -E "MAE|SSIM|baseline" "$work/eval.log" >> "$summary"
    stage eval_shipped 60 "$brine" eval --checkpoint "$here/assets/model/openfwi_cbam_gates.safetensors" \
        --data "$work/test" --backend "$backend" --out "$work/eval_shipped"
    grep -E "MAE|SSIM" "$work/eval_shipped.log" >> "$summary"

    # What comes back: the summary, the model, and one archive of logs, metrics and scores.
    cp "$work/run/best.safetensors" "$out/" 2> /dev/null
    (cd "$work" && tar czf "$out/results.tar.gz" ./*.log run/metrics.csv run/run.json eval eval_shipped 2> /dev/null)
    note "done in $SECONDS s"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *)
        echo "usage: $0 prepare|run" >&2
        exit 2
        ;;
esac
