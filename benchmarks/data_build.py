"""Build the full cache from the survey data into a fresh folder; print wall time and peak memory.

Target (issue 2): under 5 minutes and 4 GB on a 2-core machine. Peak memory is
the largest resident set of this process and of its worker processes.
"""
from __future__ import annotations

import resource
import sys
import tempfile
import time

from pelsvae_core.data import cache


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        built = cache.build(cache_dir=directory, progress=sys.stderr.isatty())
        seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    kept = int((built.stars["status"] == cache.KEPT).sum())
    print(f"curves read        {len(built.stars)}")
    print(f"curves kept        {kept}")
    print(f"wall time          {seconds:.1f} s   (target < 300 s)")
    print(f"peak memory        {own:.0f} MB main, {workers:.0f} MB largest worker   (target < 4096 MB)")
    print(f"throughput         {len(built.stars) / seconds:.0f} curves/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
