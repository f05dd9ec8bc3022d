#!/usr/bin/python3
"""Seeds the decoder's fuzz corpus: one file per IP packet of the
captures of tests/corpus/pcap (the network-layer bytes, as NFLOG would hand them over), named by
content so that reruns add nothing twice."""
import hashlib
import logging
import os
import sys

logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import PcapReader, Ether, raw  # python3-scapy
from scapy.error import Scapy_Exception


def main(pcap_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    count = 0
    for name in sorted(os.listdir(pcap_dir)):
        try:
            reader = PcapReader(os.path.join(pcap_dir, name))
        except (Scapy_Exception, OSError, ValueError):
            continue
        try:
            for frame in reader:
                data = raw(frame)
                if isinstance(frame, Ether):
                    if data[12:14] not in (b"\x08\x00", b"\x86\xdd"):
                        continue
                    data = data[14:]
                digest = hashlib.sha1(data).hexdigest()
                with open(os.path.join(out_dir, digest), "wb") as f:
                    f.write(data)
                count += 1
        except Exception:  # a malformed capture: keep what was read
            pass
    print(f"make_corpus: {count} packets into {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
