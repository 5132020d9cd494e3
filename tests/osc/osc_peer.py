#!/usr/bin/env python3
"""A real OSC sender for the tests (python-osc), from one UDP socket of its own.

  osc_peer.py send PORT   sends /1/fader1 0.5, /1/push1 1.0, a packet that is not OSC
                          (twice), /1/fader9 0.3 (no control names it), a bundle with
                          /1/fader1 0.25 and /1/push1 0.0, then /1/fader1 1.0 last
  osc_peer.py echo PORT [VALUE [SECONDS]]
                          sends /1/fader1 VALUE (default 0.75), then prints "recv ADDRESS
                          VALUE" for every message it receives back, for SECONDS (default 10)
"""
import socket
import sys
import time

from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def message(address, value):
    b = OscMessageBuilder(address=address)
    b.add_arg(float(value), OscMessageBuilder.ARG_TYPE_FLOAT)
    return b.build()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    to = ("127.0.0.1", port)
    print("from", sock.getsockname()[1], flush=True)
    if mode == "send":
        sock.sendto(message("/1/fader1", 0.5).dgram, to)
        sock.sendto(message("/1/push1", 1.0).dgram, to)
        sock.sendto(b"hello, not OSC", to)
        sock.sendto(b"hello, not OSC", to)
        sock.sendto(message("/1/fader9", 0.3).dgram, to)
        bundle = OscBundleBuilder(IMMEDIATELY)
        bundle.add_content(message("/1/fader1", 0.25))
        bundle.add_content(message("/1/push1", 0.0))
        sock.sendto(bundle.build().dgram, to)
        time.sleep(0.05)
        sock.sendto(message("/1/fader1", 1.0).dgram, to)
        print("sent", flush=True)
        return 0
    value = float(sys.argv[3]) if len(sys.argv) > 3 else 0.75
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10
    sock.sendto(message("/1/fader1", value).dgram, to)
    print("sent", flush=True)
    sock.settimeout(0.2)
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            continue
        m = OscMessage(data)
        print("recv", m.address, " ".join(f"{p:g}" for p in m.params), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
