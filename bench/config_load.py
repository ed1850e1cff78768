"""Time ``gear print --stage prod`` on examples/algorithms as a whole process.

When the Serverless Framework v3 is installed beside the example (``npm ci`` in
examples/algorithms), ``sls print --stage prod`` runs in the same session for comparison, on a
copy of the example in ``warn`` validation mode: in ``error`` mode v3 refuses the function-level
``deadLetter`` key its own plugin adds.

    .venv/bin/python bench/config_load.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _run import EXAMPLE, GEAR, SLS, Timing, measure, report


def sls_copy(workdir: Path) -> Path:
    """The example, in warn mode, with the installed node_modules linked in."""
    copy = workdir / "algorithms"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("node_modules", ".serverless"))
    (copy / "node_modules").symlink_to(EXAMPLE / "node_modules")
    service = copy / "serverless.yml"
    text = service.read_text().replace("configValidationMode: error", "configValidationMode: warn")
    service.write_text(text)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs

    timings: list[Timing] = [
        measure("gear print --stage prod", [str(GEAR), "print", "--stage", "prod"], EXAMPLE, runs)
    ]
    if SLS.exists():
        with tempfile.TemporaryDirectory() as workdir:
            command = [str(SLS), "print", "--stage", "prod"]
            copy = sls_copy(Path(workdir))
            timings.append(measure("sls print --stage prod", command, copy, runs))
    else:
        print(f"(Serverless Framework not installed at {SLS}; run `npm ci` there to compare)\n")
    report(timings, runs)


if __name__ == "__main__":
    main()
