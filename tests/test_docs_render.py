"""The documentation renders: no raw reStructuredText in the built site, math typeset offline.

The site is built once per session with ``mkdocs build --strict``; each rendered page is then
searched for reStructuredText that Markdown left as literal text. A separate check, which needs
no build, keeps docstrings from citing design notes that do not ship with the package.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vireid"

# --- what raw reStructuredText looks like once Markdown has rendered it -----------------------

_ROLES = (
    "attr|class|const|data|doc|exc|func|math|meth|mod|obj|ref|term|"
    r"py:[a-z]+|cite|eq|numref|sub|sup"
)
#: An interpreted-text role: ``:class:`X``` renders as ``:class:<code>X</code>`` (or keeps its
#: backtick inside a code block). A colon-word-colon followed by anything else (``std::vector``,
#: ``a:b:c``) is not a role.
_ROLE = re.compile(rf"(?<![\w:]):(?:{_ROLES}):(?=<code>|`)")
#: A directive such as ``.. math::`` or ``.. code-block:: python``.
_DIRECTIVE = re.compile(r"(?:^|(?<=[\s>]))\.\. [A-Za-z][\w-]*::")
#: A field list item (``:param x:``, ``:returns:``) at the start of a paragraph or list item.
_FIELD = re.compile(r"<(?:p|li|dd|td)>\s*:(?:param|type|returns?|rtype|raises?|var|ivar)\b[^:<]*:")
#: A paragraph that ends in ``::``: the marker of a reStructuredText literal block, which
#: Markdown prints as it stands. ``::`` inside a word or a code span (``std::``, ``x[::2]``)
#: never sits right before the closing tag of a paragraph, list item or cell.
_LITERAL_MARKER = re.compile(r"::\s*</(?:p|li|td|dd|dt)>")
#: A ``:math:`` role that arithmatex did not see, or a raw ``.. math::`` body marker.
_PATTERNS = {
    "role": _ROLE,
    "directive": _DIRECTIVE,
    "field list": _FIELD,
    "literal-block marker": _LITERAL_MARKER,
}

_SKIP_ELEMENTS = re.compile(r"<(script|style)\b.*?</\1>", re.DOTALL | re.IGNORECASE)


def rst_leftovers(page: str) -> list[str]:
    """Describe every reStructuredText construct left in one rendered HTML page."""
    body = _SKIP_ELEMENTS.sub("", page)
    found = []
    for kind, pattern in _PATTERNS.items():
        for m in pattern.finditer(body):
            start, end = max(0, m.start() - 60), min(len(body), m.end() + 60)
            context = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", body[start:end])))
            found.append(f"{kind}: …{context.strip()}…")
    return found


# --- the checker itself, on hand-made fragments -----------------------------------------------


@pytest.mark.parametrize(
    "fragment",
    [
        "<p>See :class:<code>RankMetrics</code> for the fields.</p>",
        "<p>Calls :func:<code>vireid.ops.soft_rank</code>.</p>",
        "<p>Uses :meth:<code>fit</code> and :attr:<code>cmc</code>.</p>",
        "<p>The rate :math:<code>\\alpha</code> grows.</p>",
        "<p>See :py:class:<code>X</code>.</p>",
        "<pre><code>:mod:`vireid.nn`\n</code></pre>",
        "<p>.. math::</p>",
        "<p>.. code-block:: python</p>",
        "<p>Layout::</p><pre><code>stem\n</code></pre>",
        "<li>the blocks are::</li>",
        "<p>:param x: the input</p>",
    ],
)
def test_checker_flags_rst(fragment: str) -> None:
    assert rst_leftovers(fragment), fragment


@pytest.mark.parametrize(
    "fragment",
    [
        "<p>A C++ <code>std::vector</code> and std::map in text.</p>",
        "<p>Every other row: <code>x[::2]</code>, or <code>x[::-1]</code>.</p>",
        "<pre><code>y = x[::2]\nclass A:  # a::b\n</code></pre>",
        "<p>Times like 12:30:45 and the ratio a:b:c.</p>",
        "<p>Ellipsis ... and a range 1..9, and <code>..</code>.</p>",
        '<p>An address <a href="http://x.org/a::b">here</a>.</p>',
        '<p>Inline math <span class="arithmatex">\\(a:b\\)</span>.</p>',
        "<script>var s = ':class:`x`';</script>",
    ],
)
def test_checker_ignores_legitimate_text(fragment: str) -> None:
    assert rst_leftovers(fragment) == []


# --- the built site ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install 'vireid[docs]')")
    pytest.importorskip(
        "mkdocstrings", reason="mkdocstrings is not installed (pip install 'vireid[docs]')"
    )
    pytest.importorskip(
        "pymdownx", reason="pymdown-extensions is not installed (pip install 'vireid[docs]')"
    )
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _pages(site: Path) -> list[Path]:
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")
    assert pages, f"no HTML pages under {site}"
    return pages


def test_site_has_no_raw_rst(site: Path) -> None:
    problems = []
    for page in _pages(site):
        for item in rst_leftovers(page.read_text(encoding="utf-8")):
            problems.append(f"{page.relative_to(site)}: {item}")
    assert not problems, "raw reStructuredText in the built docs:\n" + "\n".join(problems)


def test_api_reference_typesets_math(site: Path) -> None:
    # arithmatex wraps every formula; KaTeX and its fonts ship with the docs (no network).
    text = "".join(p.read_text(encoding="utf-8") for p in (site / "api").rglob("*.html"))
    assert 'class="arithmatex"' in text
    assert (site / "javascripts" / "katex" / "katex.min.js").is_file()
    assert any((site / "javascripts" / "katex" / "fonts").glob("*.woff2"))
    remote_script = re.compile(r'<script\b[^>]*\bsrc="(?:https?:)?//')
    for page in _pages(site):
        assert not remote_script.search(page.read_text(encoding="utf-8")), page


_NAMESPACES = (
    "vireid.metrics",
    "vireid.ops",
    "vireid.augment",
    "vireid.augment.functional",
    "vireid.augment.presets",
    "vireid.nn",
    "vireid.losses",
    "vireid.losses.functional",
    "vireid.data",
    "vireid.models",
    "vireid.models.backbones",
    "vireid.engine",
)


def test_api_reference_lists_every_public_name(site: Path) -> None:
    # Every name in a public __all__ has an anchor in the API reference, under that path or,
    # for a re-export (vireid.metrics.pairwise_distance), under another public path.
    import importlib
    import types

    anchors = set()
    for page in (site / "api").rglob("*.html"):
        anchors.update(re.findall(r'id="(vireid[\w.]*)"', page.read_text(encoding="utf-8")))
    paths: dict[int, set[str]] = {}
    for name in _NAMESPACES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            paths.setdefault(id(getattr(module, attr)), set()).add(f"{name}.{attr}")
    missing = []
    for name in _NAMESPACES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if isinstance(obj, types.ModuleType):
                documented = obj.__name__ in anchors
            else:
                documented = bool(paths[id(obj)] & anchors)
            if not documented:
                missing.append(f"{name}.{attr}")
    assert not missing, "public names missing from docs/api/*.md:\n" + "\n".join(missing)


def test_formulas_parse_with_katex(site: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the formulas were not parsed with KaTeX")
    pattern = re.compile(
        r'<(span|div) class="arithmatex">\s*\\([(\[])(.*?)\\([)\]])\s*</\1>', re.DOTALL
    )
    formulas = set()
    for page in _pages(site):
        for m in pattern.finditer(page.read_text(encoding="utf-8")):
            formulas.add((m.group(2) == "[", html.unescape(m.group(3))))
    assert formulas
    script = r"""
const katex = require(process.argv[1]);
const items = JSON.parse(require("fs").readFileSync(0, "utf8"));
const bad = [];
for (const [display, tex] of items) {
  try { katex.renderToString(tex, {displayMode: display, throwOnError: true, strict: "error"}); }
  catch (e) { bad.push(tex + "\n    " + e.message); }
}
process.stdout.write(bad.join("\n"));
"""
    import json

    proc = subprocess.run(
        [node, "-e", script, str(site / "javascripts" / "katex" / "katex.min.js")],
        input=json.dumps(sorted(formulas)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", "formulas KaTeX cannot typeset:\n" + proc.stdout


# --- no citations of files that do not ship (cheap: no build) ---------------------------------

_CITATIONS = re.compile(
    r"\b[\w/-]+\.md\b"  # any Markdown file: design notes and docs pages are not in the wheel
    r"|\bspec(?:ification)?(?:'s)?\s*(?:§|[A-Z]\.\d|\d+\.\d)"  # "spec §4.6", "spec B.3"
    r"|\b(?:protocols|mcja|idkl|agw|caj|channel_aug)\s+spec\b"  # "protocols spec §1.2"
    r"|\bchannel_aug\b\s*§"
    r"|\bissue\s*#?\d+",
    re.IGNORECASE,
)


def test_sources_cite_no_unshipped_files() -> None:
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for m in _CITATIONS.finditer(line):
                hits.append(f"{path.relative_to(ROOT)}:{lineno}: {m.group(0)!r}: {line.strip()}")
    assert not hits, "citations of files that do not ship with vireid:\n" + "\n".join(hits)


@pytest.mark.parametrize(
    "line",
    [
        "Spec: ``idkl.md`` §1.1 and §1.3.",
        "(mcja.md §4.2, Claim 1)",
        "Mean and std over trials (spec §4.6).",
        "a plain cross-entropy on each branch (spec B.3)",
        "LLCM reader (protocols spec §3).",
        "(CAJ, spec channel_aug §A.2.5)",
        "fixed in issue 5",
        "The guide ``docs/nn.md`` shows it.",
    ],
)
def test_citation_check_flags(line: str) -> None:
    assert _CITATIONS.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "IDKL (Ren et al., CVPR 2024, §3.2, Eq. 7)",
        "def _inter_channels(spec: InterChannels, channels: int) -> int:",
        "if spec == 'reference':",
        "the Markdown page of the docs",
    ],
)
def test_citation_check_passes(line: str) -> None:
    assert not _CITATIONS.search(line)
