#!/bin/bash
# One prepared run on a machine with a hardware GPU, for the `device` tool's 15 minutes:
# brine's training step beside PyTorch's on the same GPU, then the inversion recipe at GPU
# scale (256 test samples synthesised on the GPU and timed for the rate, a training set sized
# by it, training for a time budget, both the result and the shipped model scored on the
# test samples). Every stage has its own time limit and its log lands in $OUT, so a stage
# that fails or runs long costs only its own numbers.
#
#   benches/device.sh prepare     # here: release build, binary and PyTorch anchor into .carry/,
#                                 # Vulkan loader packages into .gl/ (both git-ignored)
#   benches/device.sh run         # there, in the repository root (carry .carry and .gl):
#     for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; benches/device.sh run
#
# Sizes and limits (seconds) come from the environment; the defaults fit one 600 s command
# (DEADLINE: training is cut short so that the run ends by then):
#   DEADLINE=570 BACKEND=gpu WIDTHS=16,32,64,128 TRAIN_S=170 SYNTH_S=80 MAX_TRAIN=20000 TEST=256
#   BATCH=16 LR=2e-3 PRESET=openfwi PER_FILE=250
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
    local batch=${BATCH:-16} lr=${LR:-2e-3} preset=${PRESET:-openfwi} per_file=${PER_FILE:-250}
    local brine=${BRINE:-$carry/brine} work=${WORK:-/tmp/brine-device} deadline=${DEADLINE:-570}
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
    # The NVIDIA driver's Vulkan and EGL files where the device README says they are.
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -f "$icd" ] && export VK_DRIVER_FILES=$icd \
        __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    note "brine device run: $(date -u +%FT%TZ), backend $backend"
    command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$summary"

    # 1. The training step, brine then PyTorch on the same GPU (PyTorch's --quick: fp32, tf32).
    # shellcheck disable=SC2086
    stage bench_step 60 "$brine" bench step --backend "$backend" --attention cbam --iters 10 ${BENCH_ARGS:-}
    grep -E "adapter|ms per step|inference|dispatch|submission" "$work/bench_step.log" >> "$summary"
    stage torch_step 75 python3 "$carry/torch_step_bench.py" --quick
    grep -E "^(device|bench) " "$work/torch_step.log" >> "$summary"

    # 2. The test set first, timed for the synthesis rate; then a training set sized to
    #    SYNTH_S at that rate (a quarter of it if that overruns: the rate was misjudged).
    local t0=$SECONDS
    stage synth_test 90 "$brine" synth --preset "$preset" --count "$test" --per-file "$test" \
        --seed 99 --backend "$backend" --quiet --out "$work/test"
    local took=$((SECONDS - t0 > 0 ? SECONDS - t0 : 1))
    local rate=$((test / took > 0 ? test / took : 1))
    note "synthesis: about $rate samples/s ($test in $took s, start-up included)"
    # whole_files N LEAST: N rounded down to whole files, at least LEAST.
    whole_files() {
        local v=$(($1 / per_file * per_file))
        echo $((v < $2 ? $2 : v))
    }
    local n=$((rate * synth_s < max_train ? rate * synth_s : max_train))
    n=$(whole_files "$n" $((2 * per_file)))
    local train=$work/train
    if ! stage synth_train $((synth_s * 2)) "$brine" synth --preset "$preset" --count "$n" --per-file "$per_file" \
        --seed 7 --backend "$backend" --quiet --out "$train"; then
        train=$work/train_small n=$(whole_files $((n / 4)) "$per_file")
        stage synth_train_small $((synth_s / 2 + 20)) "$brine" synth --preset "$preset" --count "$n" \
            --per-file "$per_file" --seed 7 --backend "$backend" --quiet --out "$train"
    fi
    note "training set: $n samples ($preset, wide salt, seed 7); test: $test samples (seed 99)"

    # 3. The recipe for TRAIN_S seconds, or what the deadline leaves after loading and the
    #    evaluations, then both networks on the test set.
    local left=$((deadline - SECONDS - 150))
    train_s=$((train_s < left ? train_s : left))
    note "training for $train_s s"
    if [ "$train_s" -ge 5 ]; then
        stage train $((train_s + 60)) "$brine" train --data "$train" --attention cbam --gates --widths "$widths" \
            --seconds "$train_s" --batch "$batch" --lr "$lr" --schedule cosine --loss l1 --backend "$backend" \
            --out "$work/run"
        tail -3 "$work/train.log" >> "$summary"
    else
        note "no time left to train"
    fi
    stage eval 45 "$brine" eval --checkpoint "$work/run/best.safetensors" --data "$work/test" \
        --backend "$backend" --out "$work/eval"
    grep -E "MAE|SSIM|baseline" "$work/eval.log" >> "$summary"
    stage eval_shipped 45 "$brine" eval --checkpoint "$here/assets/model/openfwi_cbam_gates.safetensors" \
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
