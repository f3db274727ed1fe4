# A test runner small enough for the MicroPython unix port: runs every test_* function of a
# module's globals and prints one line per test, then "passed N failed M".
import os
import sys


def firmware_dir() -> str:
    return os.getenv("WE_FIRMWARE") or "firmware"


def scratch() -> str:
    return os.getenv("WE_SCRATCH") or "/tmp"


def load_vectors() -> dict:
    import json

    with open(firmware_dir() + "/protocol_vectors.json") as f:
        return json.load(f)


def main(names: dict) -> None:
    passed = 0
    failed = 0
    for name in sorted(names):
        if not name.startswith("test_"):
            continue
        try:
            names[name]()
        except Exception as e:  # report and go on: one line per failure, no traceback noise
            failed += 1
            print("FAIL", name, type(e).__name__, e)
        else:
            passed += 1
            print("ok", name)
    print("passed", passed, "failed", failed)
    sys.exit(1 if failed else 0)
