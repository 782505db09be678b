"""wrk's output (with --latency) as one line: requests/s, p50 ms, p99 ms, non-2xx answers."""
import re
import sys

text = sys.stdin.read()


def ms(label):
    m = re.search(r"^\s*" + re.escape(label) + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return {"us": value / 1000, "ms": value, "s": value * 1000}[unit]


rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if not rps:
    sys.stderr.write(text)
    sys.exit(1)
print(f"{float(rps.group(1)):.0f} {ms('50%'):.2f} {ms('99%'):.2f} {errors.group(1) if errors else 0}")
