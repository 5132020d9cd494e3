#!/bin/sh
# `knoblink demo --config F` reloads F on save like `knoblink run` (docs/mapping.md,
# "Reloading"): a broken save is reported as FILE:LINE:COL and the demo keeps running;
# the good file saved back loads again. Usage: demo_reload.sh KNOBLINK EXAMPLE.yaml WORKDIR
set -eu
knoblink=$1 example=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cp "$example" "$work/box.yaml"
"$knoblink" demo --headless --duration 60 --config "$work/box.yaml" >"$work/out" 2>&1 &
demo=$!
wait_for() {  # wait_for TEXT SECONDS
  n=0
  until grep -qF "$1" "$work/out"; do
    n=$((n + 1))
    if [ $n -gt $(($2 * 10)) ] || ! kill -0 $demo 2>/dev/null; then
      echo "demo_reload: no '$1' within $2 s" >&2; kill $demo 2>/dev/null; cat "$work/out" >&2; exit 1
    fi
    sleep 0.1
  done
}
wait_for "demo: Blender ready" 90
sleep 1
sed 's/to: \[-2, 2\]/to: [-2, two]/' "$work/box.yaml" >"$work/broken" && mv "$work/broken" "$work/box.yaml"
wait_for "$work/box.yaml:31:14: to must be a number" 10
cp "$example" "$work/box.yaml.new" && mv "$work/box.yaml.new" "$work/box.yaml"
wait_for "reloaded $work/box.yaml" 10
kill -TERM $demo
wait $demo || { echo "demo_reload: the demo exited $?" >&2; cat "$work/out" >&2; exit 1; }
grep -q 'demo summary: Blender changed; [1-9]' "$work/out" || { cat "$work/out" >&2; exit 1; }
grep -F "box.yaml" "$work/out"
