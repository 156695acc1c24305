#!/usr/bin/env python3
"""Open a Snakemake report in headless Chromium and check what a reader sees, by clicking through it.

    python tools/check_report.py results/quickstart/report.html [--screenshots DIR]

Snakemake's report is a JavaScript (React) application: its pages exist only after the browser runs it,
so grepping report.html cannot tell whether a table is readable. This script drives a real Chromium over
the DevTools protocol (``--remote-debugging-pipe``: no port, no extra Python package) and checks:

* the home page names only places the report has, and each of its links leads somewhere;
* under *Tables*, every table's eye button shows the table in the page, one row per CSV row, with our
  value, the paper's and their difference equal to the table's CSV (embedded under *Table CSVs*);
* under *Configuration*, the merged configuration is shown and parses as YAML with the run's keys, and
  the provenance page lists package versions and the commit;
* every caption's links lead to places that exist, and no caption names a report section that the
  report does not have;
* the rule graph has one node per rule.

Exit status: 0 all checks passed, 1 a check failed (each failure on its own line), 2 cannot run
(no Chromium, no report). Chromium: Debian's ``chromium`` package, or ``--chromium PATH``/``$CHROMIUM``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The flags that work on machines without a display or network (headless, no sandbox as root, no calls home).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Keep the report's data: iframes in the page's process, where the DevTools session reaches them.
    "--disable-site-isolation-trials",
    "--window-size=1400,1000",
]

#: Names of report sections, in Snakemake 9's report or in older ones; a caption that names one in
#: italics must name one that this report has (older reports had "Rules" and "Configuration" panels).
SECTION_NAMES = {"Workflow", "Statistics", "About", "Results", "Rules", "Configuration", "Tables", "Figures"}

#: What the table pages must show, by header (yoco.report._COMPARISON) and the CSV column it shows.
COMPARISON = {"ours": "mean_best", "paper": "published", "ours − paper": "diff_best"}


class CheckFailed(Exception):
    pass


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium to run: ``explicit``, ``$CHROMIUM``, or the first of chromium/chrome on PATH."""
    for candidate in (explicit, os.environ.get("CHROMIUM")):
        if candidate:
            return candidate if shutil.which(candidate) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Headless Chromium over the DevTools pipe: JSON messages, NUL-terminated, on fds 3 (in) and 4 (out)."""

    def __init__(self, chromium: str, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="yoco-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def wire_pipes():  # in the child, before exec: the pipe ends where Chromium expects them
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        self.proc = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self.profile}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.session = None

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._write, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CheckFailed(f"Chromium: {method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _message(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise CheckFailed(f"Chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.stderr else ""
                raise CheckFailed(f"Chromium exited (status {self.proc.poll()}): {err.strip()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Page.navigate", {"url": url})

    def js(self, expression: str, context: int | None = None):
        """Evaluate ``expression`` in the page (or in an execution context); its value, as JSON."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if context is not None:
            params["contextId"] = context
        result = self.send("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            detail = result["exceptionDetails"]
            text = detail.get("exception", {}).get("description") or detail.get("text")
            raise CheckFailed(f"JavaScript error: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float | None = None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.1)
        raise CheckFailed(f"timed out waiting for {what}")

    def frame_text(self, expression: str):
        """Evaluate ``expression`` inside the page's (single) iframe, as the reader sees its document."""
        tree = self.send("Page.getFrameTree")["frameTree"]
        children = tree.get("childFrames", [])
        if len(children) != 1:
            raise CheckFailed(f"expected one embedded page, found {len(children)}")
        frame = children[0]["frame"]["id"]
        context = self.send("Page.createIsolatedWorld", {"frameId": frame, "worldName": "check"})["executionContextId"]
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            ready = self.js("document.readyState === 'complete' && document.body !== null", context)
            if ready:
                return self.js(expression, context)
            time.sleep(0.1)
        raise CheckFailed("the embedded page did not finish loading")

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))


# JavaScript helpers installed in the report page: find things by the text a reader sees, and click them.
HELPERS = r"""
window.__check = {
  text(el) { return (el.textContent || '').replace(/\s+/g, ' ').trim(); },
  menu() { return [...document.querySelectorAll('nav li a span')].map(s => this.text(s)); },
  clickMenu(name) {
    const a = [...document.querySelectorAll('nav li a')].find(a => this.text(a) === name);
    if (!a) return false;
    a.click();
    return true;
  },
  rows() {
    return [...document.querySelectorAll('nav table tbody tr')].map(tr => [...tr.querySelectorAll('td')]
      .slice(0, -1).map(td => this.text(td)).join(' | '));
  },
  row(label) {
    return [...document.querySelectorAll('nav table tbody tr')].find(tr => this.text(tr.querySelector('td')) === label);
  },
  clickRowButton(label, index) {
    const tr = this.row(label);
    if (!tr) return false;
    const buttons = tr.querySelectorAll('td:last-child a');
    if (buttons.length <= index) return false;
    buttons[index].click();
    return true;
  },
  rowViewButton(label) {
    const tr = this.row(label);
    if (!tr) return null;
    const a = tr.querySelector('td:last-child a');
    return {href: (a.getAttribute('href') || '').slice(0, 40), download: a.getAttribute('download')};
  },
  captionLinks(root) {
    return [...root.querySelectorAll('a')].map(a => ({text: this.text(a), href: a.getAttribute('href') || ''}));
  },
  captionEms(root) { return [...root.querySelectorAll('em')].map(e => this.text(e)); },
  // Snakemake's ListHeading: the menu's "General" and "Results", a result's "Description", "Snakemake rule", ...
  headings() {
    return [...document.querySelectorAll('nav li.uppercase')].map(h => this.text(h));
  },
};
true
"""

TABLE_IN_FRAME = r"""
(() => {
  const t = document.querySelector('table');
  if (!t) return null;
  const heads = [...t.querySelectorAll('thead th')].map(th => {
    const small = th.querySelector('small');
    const column = small ? small.textContent.trim() : th.textContent.trim();
    const label = small ? th.textContent.slice(0, th.textContent.length - small.textContent.length).trim()
                        : th.textContent.trim();
    return {label, column};
  });
  const rows = [...t.querySelectorAll('tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()));
  const visible = t.getBoundingClientRect().height > 0 && getComputedStyle(t).display !== 'none';
  return {title: (document.querySelector('h1') || {}).textContent || '', heads, rows, visible};
})()
"""


def _shown(text: str, column: str) -> str:
    """How a table page shows a CSV value (yoco.report._cell): floats at two decimals, blanks as a dash."""
    text = (text or "").strip()
    if text == "" or text.lower() == "nan":
        return "–"
    try:
        value = float(text)
    except ValueError:
        return text
    if "." not in text and "e" not in text.lower():
        return text
    return f"{value:+.2f}" if column.startswith("diff") else f"{value:.2f}"


class ReportCheck:
    def __init__(self, browser: Browser, screenshots: Path | None = None):
        self.b = browser
        self.screenshots = screenshots
        self.failures: list[str] = []
        self.passed: list[str] = []

    def check(self, ok: bool, message: str, passed: str | None = None) -> bool:
        if ok:
            if passed:
                self.passed.append(passed)
        else:
            self.failures.append(message)
        return ok

    def shot(self, name: str) -> None:
        if self.screenshots:
            self.screenshots.mkdir(parents=True, exist_ok=True)
            self.b.screenshot(self.screenshots / f"{name}.png")

    # ------------------------------------------------------------------------------------------ steps
    def load(self, report: Path) -> None:
        self.b.open(report.resolve().as_uri())
        self.b.wait_for(
            "typeof app !== 'undefined' && document.querySelector('nav li a') !== null", "the report to start"
        )
        self.b.js(HELPERS)
        self.results = self.b.js("results")
        self.categories = self.b.js("categories")
        self.rules = self.b.js("Object.keys(rules)")
        self.shot("home")

    def home(self) -> None:
        self.menu = self.b.js("__check.menu()") + self.b.js("__check.headings()")
        desc = self.b.js("__check.text(document.querySelector('.prose') || document.body)")
        self.check("YOCO companion" in desc, "home page: the workflow description is not shown", "home page text")
        self.check(
            not any("System Message" in x for x in [desc]),
            "home page: docutils printed an error into the description (a link to a missing target?)",
        )
        links = self.b.js("__check.captionLinks(document.querySelector('.prose'))")
        self.follow_links("home page", links, lambda: self.b.js("app.setView({navbarMode: 'menu'}); true"))
        ems = self.b.js("__check.captionEms(document.querySelector('.prose'))")
        self.check_sections("home page", ems)
        rules = [n["rule"] for n in self.b.js("rulegraph_spec.data[0].values")]
        dupes = sorted({r for r in rules if rules.count(r) > 1})
        self.check(
            not dupes,
            f"rule graph: {', '.join(dupes)} drawn more than once",
            f"rule graph: {len(rules)} rules, once each",
        )

    def check_sections(self, where: str, ems: list[str]) -> None:
        places = set(self.menu) | set(self.categories) | {"Snakemake rule", "Description", "Job parameters"}
        for em in ems:
            if em in SECTION_NAMES and em not in places:
                self.failures.append(f"{where}: names *{em}*, which this report does not have")

    def follow_links(self, where: str, links: list[dict], back) -> None:
        """Click every javascript: link (Snakemake's links to categories and views) and see where it lands."""
        for link in links:
            href = link["href"]
            if not href.startswith("javascript:"):
                continue
            back()
            self.b.js(
                "[...document.querySelectorAll('a')].find(a => a.getAttribute('href') === "
                f"{json.dumps(href)}).click(); true"
            )
            time.sleep(0.2)
            state = self.b.js("({nav: app.state.navbarMode, category: app.state.category, content: app.state.content})")
            text = link["text"]
            if "showCategory" in href:
                rows = self.b.js("__check.rows()")
                self.check(
                    state["category"] in self.categories and bool(rows),
                    f"{where}: the link {text!r} leads to no category with results ({state})",
                    f"{where}: link {text!r} -> {state['category']} ({len(rows)} items)",
                )
            elif "stats" in href:
                ok = self.b.js("document.querySelector('#runtimes') !== null")
                self.check(ok, f"{where}: the link {text!r} does not open the statistics", f"{where}: link {text!r}")
            else:
                self.failures.append(f"{where}: the link {text!r} ({href[:60]}) goes nowhere this check knows")

    def open_category(self, category: str) -> list[str]:
        self.b.js("app.setView({navbarMode: 'menu'}); true")
        if not self.b.js(f"__check.clickMenu({json.dumps(category)})"):
            raise CheckFailed(f"the menu has no {category!r} (it has {', '.join(self.menu)})")
        return self.b.wait_for("__check.rows().length ? __check.rows() : null", f"the list of {category}")

    def view(self, category: str, label: str, name: str):
        """Click the eye button of ``label`` in ``category``; the embedded page's table or text."""
        self.open_category(category)
        if not self.b.js(f"__check.clickRowButton({json.dumps(label)}, 0)"):
            raise CheckFailed(f"{category}: no eye button for {label!r}")
        self.b.wait_for("document.querySelector('iframe') !== null", f"{label} to be shown")
        self.shot(name)

    def caption(self, category: str, label: str) -> None:
        self.open_category(category)
        self.b.js(f"__check.clickRowButton({json.dumps(label)}, 1)")
        self.b.wait_for("document.querySelector('nav .prose') !== null", f"the caption of {label}")
        root = "document.querySelector('nav .prose')"
        self.shot("caption-" + "".join(c if c.isalnum() else "-" for c in f"{category}-{label}")[:60])
        text = self.b.js(f"__check.text({root})")
        self.check(
            "System Message" not in text,
            f"caption of {label}: docutils printed an error into it (a link to a missing target?)",
        )
        self.check_sections(f"caption of {label}", self.b.js(f"__check.captionEms({root})"))

        def back():
            self.open_category(category)
            self.b.js(f"__check.clickRowButton({json.dumps(label)}, 1)")
            self.b.wait_for("document.querySelector('nav .prose') !== null", f"the caption of {label}")

        self.follow_links(f"caption of {label}", self.b.js(f"__check.captionLinks({root})"), back)

    def tables(self) -> None:
        pages = {
            p: r for p, r in self.results.items() if r["mime_type"] == "text/html" and "table" in (r["labels"] or {})
        }
        csvs = {
            r["labels"]["table"]: r
            for r in self.results.values()
            if r["name"].endswith(".csv") and "table" in (r["labels"] or {})
        }
        if not self.check(bool(pages), "no table pages in the report (category Tables)"):
            return
        for path, rec in sorted(pages.items(), key=lambda kv: kv[1]["labels"]["table"]):
            label = rec["labels"]["table"]
            name = Path(path).stem
            self.view("Tables", label, name)
            shown = self.b.frame_text(TABLE_IN_FRAME)
            if not self.check(bool(shown and shown["visible"]), f"{label}: the page shows no table"):
                continue
            self.check(shown["title"].strip() == label, f"{label}: the page's title is {shown['title']!r}")
            csv_rec = csvs.get(label)
            if not self.check(csv_rec is not None, f"{label}: its CSV is not in the report (Table CSVs)"):
                continue
            data = base64.b64decode(csv_rec["data_uri"].split("base64,", 1)[1]).decode("utf-8")
            rows = list(csv.DictReader(io.StringIO(data)))
            columns = [h["column"] for h in shown["heads"]]
            labels = [h["label"] for h in shown["heads"]]
            self.check(
                len(shown["rows"]) == len(rows),
                f"{label}: the page shows {len(shown['rows'])} rows, the CSV has {len(rows)}",
            )
            self.check(
                set(columns) == set(rows[0].keys()) if rows else True,
                f"{label}: the page's columns differ from the CSV's ({sorted(set(columns) ^ set(rows[0]))})",
            )
            wanted = {h: c for h, c in COMPARISON.items() if c in (rows[0] if rows else {})}
            for header, column in wanted.items():
                if not self.check(header in labels, f"{label}: no {header!r} column in the page"):
                    continue
                i = labels.index(header)
                for n, (page_row, csv_row) in enumerate(zip(shown["rows"], rows), 1):
                    expect = _shown(csv_row[column], column)
                    if page_row[i] != expect:
                        self.failures.append(f"{label}, row {n}: {header} shows {page_row[i]!r}, the CSV {expect!r}")
                        break
            filled = sum(1 for r in shown["rows"] for v in r if v not in ("", "–"))
            self.check(
                filled > 0,
                f"{label}: every cell is empty",
                f"{label}: {len(shown['rows'])} rows shown"
                + (f", {' / '.join(wanted)} match the CSV" if wanted else ""),
            )
            self.caption("Tables", label)
        for label, rec in sorted(csvs.items()):
            self.open_category("Table CSVs")
            button = self.b.js(f"__check.rowViewButton({json.dumps(label)})")
            self.check(
                bool(button and button["download"]),
                f"Table CSVs: {label} has no download button",
            )
            self.caption("Table CSVs", label)

    def configuration(self) -> None:
        if not self.check("Configuration" in self.categories, "the report has no Configuration category"):
            return
        items = {r["labels"]["page"]: p for p, r in self.results.items() if (r["labels"] or {}).get("page")}
        config = next((k for k in items if "configuration" in k), None)
        if self.check(config is not None, "Configuration: no merged configuration page"):
            self.view("Configuration", config, "config")
            text = self.b.frame_text("(document.querySelector('pre') || document.body).innerText")
            try:
                import yaml

                merged = yaml.safe_load(text)
            except Exception as exc:  # the page must hold YAML a rerun can take
                merged = None
                self.failures.append(f"Configuration: the page's text is not YAML ({exc})")
            if merged is not None:
                missing = [
                    k for k in ("output_root", "figures_root", "enabled", "training", "datasets") if k not in merged
                ]
                self.check(
                    not missing,
                    f"Configuration: the merged configuration lacks {', '.join(missing)}",
                    f"Configuration: merged config shown, output_root = {merged.get('output_root')}",
                )
                self.output_root = merged.get("output_root")
            self.caption("Configuration", config)
        prov = next((k for k in items if "provenance" in k), None)
        if self.check(prov is not None, "Configuration: no provenance page"):
            self.view("Configuration", prov, "provenance")
            text = self.b.frame_text("document.body.innerText")
            for needed in ("torch", "snakemake", "git_commit", "python"):
                self.check(needed in text, f"provenance: the page does not list {needed}")
            self.passed.append("Configuration: provenance lists versions and commits")
            self.caption("Configuration", prov)

    def figures(self) -> None:
        for path, rec in sorted(self.results.items()):
            if rec["mime_type"] != "image/png":
                continue
            label = " | ".join(str(v) for v in (rec["labels"] or {}).values()) or path
            self.caption("Figures", label)
        self.passed.append("Figures: captions checked")


def run(report: Path, chromium: str, screenshots: Path | None, timeout: float) -> int:
    browser = Browser(chromium, timeout=timeout)
    check = ReportCheck(browser, screenshots)
    try:
        check.load(report)
        for step in (check.home, check.tables, check.configuration, check.figures):
            try:
                step()
            except CheckFailed as exc:
                check.failures.append(f"{step.__name__}: {exc}")
    except CheckFailed as exc:
        check.failures.append(str(exc))
    finally:
        browser.close()
    for line in check.passed:
        print(f"ok    {line}")
    for line in check.failures:
        print(f"FAIL  {line}")
    print(f"{len(check.passed)} checks passed, {len(check.failures)} failed ({report})")
    return 1 if check.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="the report.html of `snakemake --report` (e.g. make report's)")
    parser.add_argument("--chromium", default=None, help="the browser to run (default: $CHROMIUM, chromium on PATH)")
    parser.add_argument("--screenshots", type=Path, default=None, help="save a PNG of each view into this folder")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the browser per step")
    a = parser.parse_args(argv)
    if not a.report.is_file():
        print(f"check_report: {a.report} does not exist; build it with `make report` first", file=sys.stderr)
        return 2
    chromium = find_chromium(a.chromium)
    if chromium is None:
        print(
            "check_report: no Chromium found; install Debian's chromium (apt-get install chromium) or pass --chromium",
            file=sys.stderr,
        )
        return 2
    return run(a.report, chromium, a.screenshots, a.timeout)


if __name__ == "__main__":
    sys.exit(main())
