"""Run a notebook headless with papermill, on a kernel whose channels are encrypted.

    python -m yoco.notebook notebooks/fig3.ipynb results/quickstart/notebooks/fig3.ipynb -p metric last ...

The same as ``papermill IN OUT -p NAME VALUE ...`` (the workflow's figure rules run it in papermill's
place), with one difference: ipykernel 7.4 warns at every start that its kernel "is running over TCP
without encryption", because jupyter_client's kernel managers open the kernel's channels on TCP without
CurveZMQ keys unless told otherwise (``KernelManager.transport_encryption``, default ``disabled``), and
papermill has no option to tell them. Here the manager provisions the keys whenever the kernel declares
that it supports them (``auto``; ipykernel's kernel does), so the channels are encrypted and the kernel
has nothing to warn about. Jupyter's own applications (``jupyter nbconvert``, ``jupyter lab``) read the
same setting from ``config/jupyter/jupyter_config.json``, which ``make env`` installs into the
environment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: The Jupyter setting that encrypts the kernel's channels (config/jupyter/jupyter_config.json holds it too).
KERNEL_CONFIG = {"KernelManager": {"transport_encryption": "auto"}}


def _value(text: str):
    """A ``-p`` value as papermill reads it: None, True/False, an int, a float, else the text itself."""
    if text == "None":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run(notebook: str | Path, executed: str | Path, parameters: dict | None = None, log_level: str = "WARNING"):
    """Execute ``notebook`` with ``parameters`` injected after its ``parameters`` cell, write it to
    ``executed``; the notebook's own errors stop it (papermill's ``PapermillExecutionError``)."""
    import logging

    import papermill
    from traitlets.config import Config

    logging.getLogger("papermill").setLevel(log_level)
    Path(executed).parent.mkdir(parents=True, exist_ok=True)
    return papermill.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters or {},
        progress_bar=False,
        config=Config(KERNEL_CONFIG),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m yoco.notebook",
        description="papermill IN OUT -p NAME VALUE ..., with the kernel's channels encrypted (no TCP warning)",
    )
    parser.add_argument("notebook", help="the notebook to run, e.g. notebooks/fig3.ipynb")
    parser.add_argument("executed", help="where to write the executed notebook (e.g. under results/)")
    parser.add_argument(
        "-p", "--parameters", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="a parameter"
    )
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    a = parser.parse_args(argv)
    if not Path(a.notebook).is_file():
        print(
            f"yoco.notebook: error: {a.notebook} does not exist; pass a notebook, e.g. notebooks/fig3.ipynb",
            file=sys.stderr,
        )
        return 2
    from papermill.exceptions import PapermillExecutionError

    try:
        run(a.notebook, a.executed, {name: _value(value) for name, value in a.parameters}, a.log_level)
    except PapermillExecutionError as exc:
        print(
            f"yoco.notebook: error: {a.notebook} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(the executed notebook, with the traceback: {a.executed})",
            file=sys.stderr,
        )
        return 1
    if a.log_level != "ERROR":  # the workflow asks for errors only; a person running it sees where it went
        print(f"{a.notebook} -> {a.executed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
