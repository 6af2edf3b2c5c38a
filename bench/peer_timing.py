"""What the peers scripts share (bench/peers.py, bench/peers-methods.py, bench/architectures.py)."""
import statistics
import time


def timed(fn, repeats):
    """The first call timed apart (first_s), then the median of `repeats` later calls (seconds; the first call's time when there are none)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"first_s": first, "seconds": statistics.median(times) if times else first}
