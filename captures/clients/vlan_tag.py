#!/usr/bin/env python3
"""Insert 802.1Q / 802.1ad tags into the Ethernet frames of a classic pcap.

    vlan_tag.py IN.pcap OUT.pcap

The first TCP connection (by client port, in order of appearance) gets one 802.1Q tag
(VID 100); every later connection gets QinQ: an 802.1ad S-tag (TPID 0x88a8, VID 200)
followed by an 802.1Q C-tag (VID 300). Non-TCP frames (ARP) get the 802.1Q tag.

Used by make-captures.sh because the kernel it was run on has no 802.1Q support
(CONFIG_VLAN_8021Q unset), so tagged frames could not be made live on the veth.
"""

import struct
import sys


def tag(tpid: int, vid: int, prio: int = 0) -> bytes:
    return struct.pack("!HH", tpid, (prio << 13) | vid)


def main() -> int:
    src, dst = sys.argv[1], sys.argv[2]
    data = open(src, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        sys.exit(f"{src}: not a classic pcap")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"{src}: link type {linktype}, want 1 (Ethernet)")
    out = bytearray(data[:24])
    off = 24
    conns: list[int] = []
    while off + 16 <= len(data):
        ts_s, ts_f, caplen, origlen = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        tags = tag(0x8100, 100)
        ethertype = struct.unpack("!H", frame[12:14])[0]
        if ethertype == 0x0800 and frame[23] == 6:
            ihl = (frame[14] & 0x0F) * 4
            sport, dport = struct.unpack("!HH", frame[14 + ihl:14 + ihl + 4])
            client = sport if dport in (80, 1338) else dport
            if client not in conns:
                conns.append(client)
            if conns.index(client) > 0:
                tags = tag(0x88A8, 200) + tag(0x8100, 300)
        frame = frame[:12] + tags + frame[12:]
        out += struct.pack(e + "IIII", ts_s, ts_f, len(frame), origlen + len(tags)) + frame
    open(dst, "wb").write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
