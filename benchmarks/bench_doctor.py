"""doctor() on a clean 1 s stream, measured side by side with one probe and with the old doctor.

    .venv/bin/python benchmarks/bench_doctor.py [--quick]

The target (issue 17): ``doctor`` on a clean 1 s stream takes no longer than it did before the
rules, hops and concurrency checks, because it runs its requests at once. Three things are timed
in interleaved rounds against the same server (5 pieces 200 ms apart, werkzeug's threaded
server): one ``probe()``; today's ``doctor()``; and the doctor as it was at commit
``228b99e`` (its ``doctor.py`` and ``diagnosis.py`` loaded from git into a throw-away package
that uses today's probe). Each line prints the median wall time and the ratio; the summary says
PASS or FAIL. A missed target still exits 0; a crash exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OLD_COMMIT = "228b99e"
PIECES, GAP = 6, 0.2  # 5 gaps of 200 ms: a 1 s stream


def stream_app(environ: dict[str, Any], start_response: Any) -> Any:
    start_response(
        "200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
    )

    def body() -> Any:
        for i in range(PIECES):
            if i:
                time.sleep(GAP)
            yield f"piece {i}\n".encode()

    return body()


def old_doctor(directory: str) -> Any | None:
    """The doctor of :data:`OLD_COMMIT` (written into ``directory``), or None when git cannot
    show it."""
    package = Path(directory) / "oldkit"
    package.mkdir()
    try:
        for name in ("doctor.py", "diagnosis.py"):
            source = subprocess.run(
                ["git", "show", f"{OLD_COMMIT}:streamkit/{name}"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            (package / name).write_text(source)
    except (OSError, subprocess.CalledProcessError):
        return None
    (package / "__init__.py").write_text("")
    for name in ("probe", "trace", "display", "timeline"):
        shim = (
            "import importlib\n"
            f"m = importlib.import_module('streamkit.{name}')\n"
            "globals().update({k: v for k, v in vars(m).items() if not k.startswith('__')})\n"
        )
        (package / f"{name}.py").write_text(shim)
    sys.path.insert(0, str(package.parent))
    return importlib.import_module("oldkit.doctor").doctor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7

    from streamkit import serve
    from streamkit.doctor import doctor
    from streamkit.probe import probe

    scratch = tempfile.TemporaryDirectory(prefix="streamkit-old-doctor-")
    old = old_doctor(scratch.name)
    times: dict[str, list[float]] = {"probe": [], "doctor": [], "old doctor": []}
    with serve(stream_app) as server:
        url = server.url + "/"
        for _ in range(rounds):
            for name in times:
                if name == "old doctor" and old is None:
                    continue
                started = time.perf_counter()
                if name == "probe":
                    result = probe(url, keep_body=False)
                    assert result.verdict == "streamed", result
                else:
                    diagnosis = (doctor if name == "doctor" else old)(url)
                    assert diagnosis.streams and diagnosis.culprit is None, diagnosis
                times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) for name, values in times.items() if values}
    print(
        f"a clean 1 s stream ({PIECES} pieces {GAP * 1000:.0f} ms apart), median of {rounds} interleaved rounds:"
    )
    for name, value in median.items():
        print(f"  {name:<10} {value:6.3f} s   ({value / median['probe']:.2f} x one probe)")
    ok = True
    if "old doctor" in median:
        ratio = median["doctor"] / median["old doctor"]
        ok = ratio <= 1.10  # "no longer than today", with 10 % for a noisy 2-core machine
        print(f"doctor / old doctor ({OLD_COMMIT}): {ratio:.2f}  target <= 1.10: {'PASS' if ok else 'FAIL'}")
    else:
        print(f"old doctor ({OLD_COMMIT}) not available from git: compared with one probe only")
    ratio = median["doctor"] / median["probe"]
    near = ratio <= 1.5
    print(
        f"doctor / one probe: {ratio:.2f}  target <= 1.50 (its requests run at once): {'PASS' if near else 'FAIL'}"
    )
    print("summary:", "PASS" if ok and near else "FAIL")
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
