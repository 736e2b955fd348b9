"""Per-request CPU of ``tests/bench/queries.py`` alone, A/B between checkouts, without the bench.

``python -m tests.bench.cpu [--rounds N] [--repeat N] [CHECKOUT ...]`` starts the bench's stack
(throwaway PostgreSQL and Redis, gunicorn, one Celery worker, no beat), provisions one reference
device, then runs ``queries.py`` from each checkout in turn (default: this one), ``rounds``
times, against the same database, and prints each checkout's median per request type over its
rounds. A checkout is a folder holding this project's code (a git worktree, or ``git archive``
of a commit): its ``hermod_core`` is the one imported (the current folder comes first on
``sys.path``), with this interpreter's packages. Alternating them round by round is what makes
a before/after fair on a machine whose speed moves with other people's work. Wrap it in
``flock /tmp/h/bench.lock`` like any benchmark run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.queries import STEPS
from tests.bench.run import QUICK, Bench, Sizes
from tests.stack import PYTHON, ROOT, hermod_stack


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.cpu", description=__doc__)
    parser.add_argument("checkouts", nargs="*", type=Path, default=[ROOT])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--hold",
        type=Path,
        help="after provisioning, write the environment and queries.py's arguments as JSON to "
        "this file and keep the stack up until the file is removed (instead of the rounds)",
    )
    parser.add_argument("--out", type=Path, help="every round's JSON, one list per checkout")
    parser.add_argument(
        "--profile", type=Path, help="cProfile each step: <folder>/<n>/<step>.prof, n-th checkout"
    )
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hermod-cpu-"))
    sizes = Sizes(**{**QUICK.__dict__, "devices": 1})
    bench = Bench(sizes, folder, argparse.Namespace())
    env = {"HERMOD_RATE_LIMIT_CLIENT": "1000000000", "HERMOD_RATE_LIMIT_BOX": "1000000000"}
    figures: dict[Path, list[dict[str, Any]]] = {path: [] for path in options.checkouts}
    try:
        with hermod_stack(folder / "stack", workers=1, beat=False, env=env, web_workers=1) as (
            hermod,
            postgres,
            redis,
        ):
            bench.attach(hermod, postgres, redis)
            try:
                bench.provision()
                arguments = bench.queries_arguments(options.repeat)
                environ = hermod.env | {"DJANGO_SETTINGS_MODULE": "hermod_core.settings"}
                if options.hold:
                    options.hold.write_text(json.dumps({"env": environ, "arguments": arguments}))
                    print(f"stack up: {options.hold}", flush=True)
                    while options.hold.exists():
                        time.sleep(1)
                    return
                for round_ in range(options.rounds):
                    for index, path in enumerate(options.checkouts):
                        if options.profile:
                            arguments["profile"] = str(options.profile / str(index))
                            (options.profile / str(index)).mkdir(parents=True, exist_ok=True)
                        result = subprocess.run(
                            [PYTHON, "-m", "tests.bench.queries", json.dumps(arguments)],
                            cwd=path, env=environ, capture_output=True, text=True, check=False,
                        )  # fmt: skip
                        if result.returncode != 0:
                            raise SystemExit(f"{path}: {result.stderr[-3000:]}")
                        one = json.loads(result.stdout.strip().splitlines()[-1])
                        figures[path].append(one)
                        print(
                            f"round {round_} {path}: "
                            + ", ".join(f"{s} {one[s]['cpu_ms']}" for s in STEPS),
                            flush=True,
                        )
            finally:
                bench.receiver.stop()
                bench.db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if options.out:
        options.out.write_text(json.dumps({str(p): r for p, r in figures.items()}, indent=1))
    print()
    for path, rounds in figures.items():
        keys = [k for k in rounds[0]["create"] if k.endswith("_ms")]
        print(f"{path} (median of {len(rounds)} rounds of {options.repeat}):")
        for step in STEPS:
            values = {k: statistics.median(r[step][k] for r in rounds) for k in keys}
            queries = rounds[0][step]["queries"]
            print(f"  {step:9s} queries {queries:2d}  " + "  ".join(
                f"{k} {v:6.2f}" for k, v in values.items()
            ))  # fmt: skip


if __name__ == "__main__":
    main()
