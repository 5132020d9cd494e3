#!/bin/sh
# Runs in the QEMU guest of tests/midi/alsa-qemu-test as /bin/test-program (busybox sh;
# the initramfs's /init loaded snd, snd-rawmidi, snd-seq, snd-seq-virmidi, snd-virmidi,
# snd-seq-dummy and what they need). snd-virmidi makes card 0 with raw MIDI devices
# /dev/snd/midiC0D0..3, each also an ALSA sequencer port ("VirMIDI 0-0", ...): bytes
# written to the raw device leave that port as MIDI events, events sent to the port can
# be read from the raw device, like a USB MIDI controller. The guest runs `knoblink list`,
# then `knoblink monitor -c virmidi.yaml` in the background, and the host drives it over
# the console (stdin):
#   send BYTES    BYTES (printf escapes, '\xb0\x07\x40') written to /dev/snd/midiC0D0
#   run           SIGTERM to monitor; then a Blender stand-in (busybox nc on 127.0.0.1:9876:
#                 it answers the hello, then says context.scene.use_gravity is true) and
#                 `knoblink run -c run.yaml`; the first 3 bytes knoblink writes to the port
#                 (feedback) are read from the raw device and printed as "guest feedback ..."
#   show          prints each line knoblink sent to the stand-in as "guest blender LINE"
#   stop          SIGTERM to knoblink run
# Lines the host waits for start with "guest ".
uptime_s() { cut -d' ' -f1 /proc/uptime; }
stty -echo 2>/dev/null  # the host's lines need not come back
echo "guest up $(uptime_s) s"
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm  # as on a real system: libjack keeps its database there
i=0
while [ ! -e /dev/snd/seq ] || [ ! -e /dev/snd/midiC0D0 ]; do
  i=$((i + 1))
  [ $i -gt 100 ] && { echo "guest no /dev/snd/seq or /dev/snd/midiC0D0 after 10 s"; ls -l /dev/snd; exit 1; }
  sleep 0.1
done
echo "guest alsa at $(uptime_s) s: $(ls /dev/snd | tr '\n' ' ')"
cat /proc/asound/seq/clients 2>/dev/null | grep -E '^(Client|  Port)' | sed 's/^/guest seq /'
knoblink list || exit 1
echo "guest monitor"
knoblink monitor -c /etc/knoblink/virmidi.yaml 2>&1 &
pid=$!
exec 3>/dev/snd/midiC0D0  # held open: the controller stays plugged in between sends
# stop_pid NAME: SIGTERM to $pid, and its exit status said
stop_pid() {
  kill -TERM $pid
  wait $pid
  rc=$?
  echo "guest $1 exit $rc"
}
while read -r cmd rest; do
  case $cmd in
    send) printf "$rest" >&3 && echo "guest sent $rest" ;;
    run)
      stop_pid monitor
      [ $rc = 0 ] || exit $rc
      ip link set lo up
      { echo '{"hello":1,"server":"knoblink-addon/guest","blender":"3.4.1"}'
        sleep 2  # the port is open by then
        echo '{"ev":"value","path":"context.scene.use_gravity","value":true}'
        sleep 600; } | nc -l -p 9876 >/tmp/blender.in &
      { dd if=/dev/snd/midiC0D0 bs=1 count=3 2>/dev/null | od -An -tx1 | sed 's/^ */guest feedback /'; } &
      knoblink run -c /etc/knoblink/run.yaml 2>&1 &
      pid=$!
      ;;
    show) sed 's/^/guest blender /' /tmp/blender.in ;;
    stop) break ;;
    *) echo "guest unknown command: $cmd" ;;
  esac
done
stop_pid run
exit $rc
