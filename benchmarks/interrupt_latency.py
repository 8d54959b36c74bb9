"""How long from "interrupt kernel" to the KeyboardInterrupt reply of a cell blocked in get().

    python benchmarks/interrupt_latency.py [RUNS]

Drives a real kernel through jupyter_client, as a notebook front end does.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests"), os.path.join(HERE, "..", "tests", "kernel")]
from test_kernel import Kernel  # noqa: E402


def main(runs: int) -> None:
    kernel = Kernel()
    try:
        kernel.execute("%load_ext jupyter_raylite\nimport jupyter_raylite as ray, time\n"
                       "@ray.remote\ndef forever():\n    while True:\n        time.sleep(0.01)")
        latencies = []
        for _ in range(runs):
            msg_id = kernel.client.execute("ray.get(forever.remote())")
            time.sleep(0.5)
            latencies.append(kernel.interrupt(msg_id)[1])
        print("interrupt -> KeyboardInterrupt reply, seconds:",
              ", ".join(f"{x:.3f}" for x in latencies))
    finally:
        kernel.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
