#!/bin/sh
# Runs in the QEMU guest of tests/serial_qemu/serial-qemu-test as /bin/test-program
# (busybox sh; modules loaded, /proc, /sys and /dev mounted by the initramfs's /init).
# Waits for /dev/ttyUSB0, runs `knoblink list`, then `knoblink monitor` with path.yaml,
# auto.yaml, nomatch.yaml, uid.yaml and wronguid.yaml in turn, each until the host sends a line on the console
# (stdin).
# All output goes to the console, where the host test reads it; lines the host waits
# for start with "guest ".
uptime_s() { cut -d' ' -f1 /proc/uptime; }
stty -echo 2>/dev/null  # the host's "next" lines need not come back
echo "guest up $(uptime_s) s"
i=0
while [ ! -e /dev/ttyUSB0 ]; do
  i=$((i + 1))
  [ $i -gt 300 ] && { echo "guest no /dev/ttyUSB0 after 30 s"; ls /sys/bus/usb/devices; exit 1; }
  sleep 0.1
done
echo "guest ttyUSB0 at $(uptime_s) s"
knoblink list || exit 1
status=0
for cfg in path auto nomatch uid wronguid; do
  echo "guest monitor $cfg"
  knoblink monitor -v -c /etc/knoblink/$cfg.yaml 2>&1 &
  pid=$!
  read -r _ || exit 1
  kill -TERM $pid
  wait $pid
  rc=$?
  echo "guest monitor $cfg exit $rc"
  [ $rc -eq 0 ] || status=1
done
exit $status
