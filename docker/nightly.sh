#!/usr/bin/env bash
# The nightly batch screening inside a container: wait for SCREENING_NIGHTLY_AT, screen every export in the
# input folder into a folder named after the day, and do it again the next day.
#
#   screening-nightly          run for ever, once a day at SCREENING_NIGHTLY_AT (the compose service's command)
#   screening-nightly once     one run now, then exit with screening batch's exit code
#   screening-nightly next     print when the next scheduled run starts, then exit
#
# Settings (environment):
#   SCREENING_NIGHTLY_AT          HH:MM, 24-hour clock, in the container's time zone (TZ; UTC by default)  [01:30]
#   SCREENING_NIGHTLY_INPUT_DIR   folder of the exports                                                     [/batch/input]
#   SCREENING_NIGHTLY_OUTPUT_DIR  folder receiving one sub-folder per day                                   [/batch/output]
#   SCREENING_NIGHTLY_INPUTS      file names or glob patterns inside the input folder, space-separated
#                                 [*.jsonl *.ndjson *.csv *.tsv *.parquet *.pq]
#   SCREENING_NIGHTLY_MAPPING     a mapping file for CSV exports (screening batch --mapping)                [none]
#   SCREENING_NIGHTLY_FAIL_ON     review, block or empty (screening batch --fail-on)                        [block]
#   SCREENING_NIGHTLY_ARGS        more options for screening batch, e.g. "--store --workers 2"              [none]
#   SCREENING_NIGHTLY_RUN_AT_START  true: also run once as soon as the container starts                     [false]
#
# Each run writes DAY/results.csv, DAY/results.csv.results.jsonl, DAY/results.csv.errors.jsonl, DAY/report.html
# and DAY/summary.json, then NIGHTLY.prom in the output folder (for node_exporter's textfile collector).
# An interrupted run (container stopped, host rebooted) leaves DAY/results.csv.journal; the next start of the
# container finishes it with --resume before waiting for the next night.
set -euo pipefail

at=${SCREENING_NIGHTLY_AT:-01:30}
input_dir=${SCREENING_NIGHTLY_INPUT_DIR:-/batch/input}
output_dir=${SCREENING_NIGHTLY_OUTPUT_DIR:-/batch/output}
patterns=${SCREENING_NIGHTLY_INPUTS:-*.jsonl *.ndjson *.csv *.tsv *.parquet *.pq}
mapping=${SCREENING_NIGHTLY_MAPPING:-}
fail_on=${SCREENING_NIGHTLY_FAIL_ON-block}
extra_args=${SCREENING_NIGHTLY_ARGS:-}
run_at_start=${SCREENING_NIGHTLY_RUN_AT_START:-false}

log() {
    printf '%s nightly: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

die() {
    log "error: $*"
    exit 2
}

if ! [[ $at =~ ^([01][0-9]|2[0-3]):[0-5][0-9]$ ]]; then
    die "SCREENING_NIGHTLY_AT must be a time of day as HH:MM (00:00 to 23:59), got '$at'"
fi
case $fail_on in
    "" | review | block) ;;
    *) die "SCREENING_NIGHTLY_FAIL_ON must be review, block or empty, got '$fail_on'" ;;
esac
case $run_at_start in
    true | false) ;;
    *) die "SCREENING_NIGHTLY_RUN_AT_START must be true or false, got '$run_at_start'" ;;
esac

# Seconds since the epoch of the next SCREENING_NIGHTLY_AT after now.
next_run() {
    local now target
    now=$(date +%s)
    target=$(date -d "today $at" +%s)
    if [ "$target" -le "$now" ]; then
        target=$(date -d "tomorrow $at" +%s)
    fi
    echo "$target"
}

# The inputs of a run, in a stable order; an empty list when nothing matches.
find_inputs() {
    local pattern file pattern_list
    inputs=()
    # read splits on blanks without expanding the patterns against the current folder.
    read -r -a pattern_list <<<"$patterns"
    shopt -s nullglob
    for pattern in "${pattern_list[@]}"; do
        for file in "$input_dir"/$pattern; do
            [ -f "$file" ] && inputs+=("$file")
        done
    done
    shopt -u nullglob
}

# Written under a temporary name and renamed, so a scrape never reads half a file.
write_metrics() {
    local exit_code=$1 started=$2 finished=$3 day=$4 partial="$output_dir/.nightly.prom.partial"
    {
        echo "# HELP screening_nightly_last_exit_code Exit code of the last nightly batch run (0 done, 1 fail-on reached, 2 usage error, 3 bad rows, 4 failed)."
        echo "# TYPE screening_nightly_last_exit_code gauge"
        echo "screening_nightly_last_exit_code{day=\"$day\"} $exit_code"
        echo "# HELP screening_nightly_last_start_timestamp_seconds When the last nightly batch run started (Unix time)."
        echo "# TYPE screening_nightly_last_start_timestamp_seconds gauge"
        echo "screening_nightly_last_start_timestamp_seconds $started"
        echo "# HELP screening_nightly_last_finish_timestamp_seconds When the last nightly batch run ended (Unix time)."
        echo "# TYPE screening_nightly_last_finish_timestamp_seconds gauge"
        echo "screening_nightly_last_finish_timestamp_seconds $finished"
    } >"$partial"
    mv -f "$partial" "$output_dir/nightly.prom"
}

child=0
on_signal() {
    # Stop the batch cleanly: finished chunks are kept and the next start resumes the run.
    if [ "$child" -ne 0 ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    log "stopped"
    exit 143
}
trap on_signal TERM INT

# Screen the inputs into OUTPUT_DIR/DAY; returns screening batch's exit code (2 when there is no input).
run_batch() {
    local day=$1 started finished code
    local folder="$output_dir/$day"
    find_inputs
    started=$(date +%s)
    if [ "${#inputs[@]}" -eq 0 ]; then
        log "no input matches '$patterns' in $input_dir; nothing screened for $day"
        write_metrics 2 "$started" "$(date +%s)" "$day"
        return 2
    fi
    mkdir -p "$folder"
    local args=(batch "${inputs[@]}" --out "$folder/results.csv" --report "$folder/report.html"
                --resume --progress log)
    [ -n "$mapping" ] && args+=(--mapping "$mapping")
    [ -n "$fail_on" ] && args+=(--fail-on "$fail_on")
    # Word splitting is wanted here: the variable holds several options.
    # shellcheck disable=SC2206
    args+=($extra_args)
    log "screening ${#inputs[@]} file(s) into $folder"
    screening "${args[@]}" &
    child=$!
    code=0
    wait "$child" || code=$?
    child=0
    finished=$(date +%s)
    write_metrics "$code" "$started" "$finished" "$day"
    case $code in
        0) log "done for $day" ;;
        1) log "done for $day; the --fail-on threshold ($fail_on) was reached: see $folder/report.html" ;;
        3) log "done for $day with bad rows: see $folder/results.csv.errors.jsonl" ;;
        *) log "run for $day failed with exit code $code" ;;
    esac
    return "$code"
}

# Runs interrupted by a stop or a reboot: finish them before anything else.
resume_interrupted() {
    local journal day
    shopt -s nullglob
    for journal in "$output_dir"/*/results.csv.journal; do
        day=$(basename "$(dirname "$journal")")
        log "resuming the interrupted run of $day"
        run_batch "$day" || true
    done
    shopt -u nullglob
}

command=${1:-loop}
case $command in
    next)
        date -d "@$(next_run)" '+%Y-%m-%dT%H:%M:%S%z'
        ;;
    once)
        mkdir -p "$output_dir"
        code=0
        run_batch "$(date +%F)" || code=$?
        exit "$code"
        ;;
    loop)
        mkdir -p "$output_dir"
        log "scheduled daily at $at ($(date +%Z)); inputs '$patterns' in $input_dir; outputs in $output_dir"
        resume_interrupted
        if [ "$run_at_start" = true ]; then
            run_batch "$(date +%F)" || true
        fi
        while true; do
            target=$(next_run)
            log "next run at $(date -d "@$target" '+%Y-%m-%d %H:%M %Z')"
            # Sleep in short steps: a suspended host or a clock change does not push the run back by hours.
            while [ "$(date +%s)" -lt "$target" ]; do
                sleep 60 &
                child=$!
                wait "$child" || true
                child=0
            done
            # The day the run was scheduled for names its folder, even if it starts a little after midnight.
            run_batch "$(date -d "@$target" +%F)" || true
        done
        ;;
    *)
        echo "usage: screening-nightly [loop|once|next]" >&2
        exit 2
        ;;
esac
