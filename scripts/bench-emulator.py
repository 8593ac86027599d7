#!/usr/bin/env python3
"""The emulator's server for benchmarks: moto's own `moto_server`, with
the one lookup it repeats on every request done once.

moto routes each request by listing its package folder (an `isdir` for
each of its ~200 service folders) while holding a lock every request
takes, so concurrent calls queue behind a directory scan: about half the
emulator's CPU in a destroy. AWS answers side by side, so that queue
would count against pipectl in the benchmark. The folder does not change
while the server runs: its listing is kept. Nothing else differs.

    bench-emulator.py -H 127.0.0.1 -p 5000     # the same flags as moto_server
"""
import sys

from moto import backends

_MODULES = frozenset(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _MODULES

from moto.server import main  # noqa: E402  (after the patch it reads)

if __name__ == "__main__":
    sys.exit(main())
