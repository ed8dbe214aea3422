#!/usr/bin/env python3
"""Print a JSON file sorted, without wall-clock fields (tools/regress/capture.sh)."""
import json
import sys

WALL = {"time_calibration_s", "time_engine_s", "time_ideal_s"}
VOLATILE = ("seconds", "wall", "elapsed", "time_s_wall", "throughput", "images_per_s", "utc", "version")


def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()
                if not any(s in k for s in VOLATILE) and k not in WALL}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x


print(json.dumps(clean(json.load(open(sys.argv[1]))), indent=1, sort_keys=True))
