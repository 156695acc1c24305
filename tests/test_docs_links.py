"""The pages a reader opens first (README, docs/, benchmarks/README) point only at files that exist: a results
page whose figure or data link is broken shows nothing where its evidence should be."""

from __future__ import annotations

import re

import pytest

from conftest import REPO

PAGES = sorted([REPO / "README.md", REPO / "benchmarks" / "README.md", *(REPO / "docs").glob("*.md")])
# [text](target) and ![alt](target); the target ends at the first space (an optional "title") or ')'.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")


def _local_targets(page):
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        yield target.split("#", 1)[0]


def test_the_link_pattern_finds_images_and_links_and_skips_urls(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        '![a fig](figs/a.png) see [data](d.csv "title"), [web](https://x.org/a) [top](#top) [s](b.md#sec)\n'
    )
    assert list(_local_targets(page)) == ["figs/a.png", "d.csv", "b.md"]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_local_link_of_a_page_resolves(page):
    missing = [t for t in _local_targets(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(REPO)} links to missing files: {missing}"
