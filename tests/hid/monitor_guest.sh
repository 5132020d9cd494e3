#!/bin/sh
# Runs in the QEMU guest of tests/hid/hid-monitor-test as /bin/test-program (busybox sh;
# hid, uhid and hid-generic loaded by the initramfs's /init). Starts the feeder
# (`hid_guest feed`: a uhid game pad with the knob box's descriptor), creates the device,
# waits for /dev/hidraw0, runs `knoblink list`, then `knoblink monitor -c pad.yaml` in the
# background. Then the host drives it over the console (stdin): "feed COMMAND" goes to
# the feeder (create, destroy, report ...), "stop" sends monitor SIGTERM.
# All output goes to the console, where the host test reads it; lines the host waits
# for start with "guest ", the feeder's with "feeder ".
uptime_s() { cut -d' ' -f1 /proc/uptime; }
stty -echo 2>/dev/null  # the host's lines need not come back
echo "guest up $(uptime_s) s"
mkfifo /tmp/feed
hid_guest feed </tmp/feed &
feeder=$!
exec 3>/tmp/feed
echo create >&3
i=0
while [ ! -e /dev/hidraw0 ]; do
  i=$((i + 1))
  [ $i -gt 100 ] && { echo "guest no /dev/hidraw0 after 10 s"; ls /sys/class/hidraw; exit 1; }
  sleep 0.1
done
echo "guest hidraw0 at $(uptime_s) s"
knoblink list || exit 1
echo "guest monitor"
knoblink monitor -c /etc/knoblink/pad.yaml 2>&1 &
pid=$!
while read -r cmd rest; do
  case $cmd in
    feed) echo "$rest" >&3 ;;
    stop) break ;;
    *) echo "guest unknown command: $cmd" ;;
  esac
done
kill -TERM $pid
wait $pid
rc=$?
echo "guest monitor exit $rc"
exec 3>&-
wait $feeder
exit $rc
