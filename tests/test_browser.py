"""The rendered book in headless Chromium: every toc page loads without errors, its figures load and are
not blank, no cell shows a traceback, citations and links resolve; a deliberately broken book shows the
checker catches each of these.

The book is built at the smoke scale into a temporary folder, or taken from WEDGES_BOOK_HTML (CI builds
it first). Pages are served on 127.0.0.1 and opened in Debian's Chromium through Playwright's Python
client (`executable_path`, never `playwright install`). There is no network: Chromium resolves every
host but localhost to "not found" at once, and any request to another host (a script, style, font or image
from a CDN) is a problem, as is every request to the book itself that fails, and console errors, except two
the theme stack logs on every page (listed in KNOWN_THEME_ERRORS). Figures are read back through a canvas (the
decoded image, even inside a collapsed toggle) and judged blank with PIL; no output may hold a progress bar.
At 1400 px, no table or figure may be wider than the text column, and a figure shown below 70 % of its drawn
width must enlarge on click. Full-page screenshots land in test-artifacts/screenshots/.
"""
import base64
import functools
import html.parser
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from wedges_lib import verdicts

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
WIDGET_PAGE = "book/01_toy_model.html"
BLANK_FRACTION = 0.005  # an image is blank if fewer pixels than this differ from its most common colour
# Errors the pinned theme stack (jupyter-book 1.0.4: sphinx-book-theme 1.3.0, pydata-sphinx-theme 0.17.1,
# sphinx-thebe 0.3.1) logs on every page of every book, this one's content aside; each is harmless.
KNOWN_THEME_ERRORS = {
    "Identifier 'THEBE_JS_URL' has already been declared":
        "sphinx-thebe's config <script> is emitted twice; the first copy defines the same constants, "
        "and the book has no Thebe launch button",
    "Got invalid theme mode: . Resetting to auto.":
        "pydata-sphinx-theme on a first visit (empty localStorage) resets the light/dark mode to auto itself",
}


def toc_pages(toc: Path) -> list[str]:
    """The .html paths (relative to _build/html) of every file listed in a jb-book _toc.yml, in order."""
    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    yield re.sub(r"\.(md|ipynb|py|rst)$", "", node[key]) + ".html"
            for value in node.values():
                if isinstance(value, (list, dict)):
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
    return list(dict.fromkeys(walk(yaml.safe_load(toc.read_text()))))


PAGES = toc_pages(ROOT / "_toc.yml")


# --- the page checker ----------------------------------------------------------------------------

def _is_local(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in LOCAL_HOSTS


def _known_theme_error(text: str) -> bool:
    return any(known in text for known in KNOWN_THEME_ERRORS)


class _Anchors(html.parser.HTMLParser):
    """Every id / a[name] in an HTML document, mapped to the attributes of the element that holds it."""
    def __init__(self):
        super().__init__()
        self.anchors = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.anchors.setdefault(attrs[key], attrs)


def _anchors(text: str) -> dict:
    parser = _Anchors()
    parser.feed(text)
    return parser.anchors


def _blank_fraction(png: bytes) -> float:
    """The fraction of an image's pixels that differ (by > 32 in a channel) from its most common colour."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16).reshape(-1, 3)
    colours, counts = np.unique(rgb, axis=0, return_counts=True)
    mode = colours[counts.argmax()]
    return float((np.abs(rgb - mode).max(axis=1) > 32).mean())


# Every img in the main content: whether it loaded, and its pixels drawn at most 600 px wide on a white
# canvas (the decoded image itself, so images inside collapsed toggles are checked too).
_IMAGES_JS = """async (imgs) => {
  for (const i of imgs) i.loading = 'eager';
  await Promise.all(imgs.map(i => Promise.race([i.decode().catch(() => null),
                                                new Promise(r => setTimeout(r, 5000))])));
  return imgs.map(i => {
    const r = {src: i.getAttribute('src'), url: i.currentSrc || i.src, complete: i.complete,
               w: i.naturalWidth, h: i.naturalHeight, png: null, err: null};
    if (!(i.complete && i.naturalWidth > 0)) return r;
    try {
      const s = Math.min(1, 600 / i.naturalWidth), c = document.createElement('canvas');
      c.width = Math.max(1, Math.round(i.naturalWidth * s)); c.height = Math.max(1, Math.round(i.naturalHeight * s));
      const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
      g.drawImage(i, 0, 0, c.width, c.height); r.png = c.toDataURL('image/png');
    } catch (e) { r.err = String(e); }
    return r;
  });
}"""

# Executed cells that show an error: myst-nb's traceback output, an error output, or traceback text
# (cells tagged raises-exception excepted).
_ERRORS_JS = """() => {
  const found = [], seen = new Set();
  const add = (e, why) => { if (!seen.has(e)) { seen.add(e);
    found.push(why + ': ' + e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 160)); } };
  const shown = e => !e.closest('.tag_raises-exception');  // an error the chapter means to show
  document.querySelectorAll('.output.error, .output.traceback, [class*="ipythontb"]')
    .forEach(e => shown(e) && add(e.closest('.output') || e, 'error output'));
  document.querySelectorAll('.cell_output, .output').forEach(e => {
    if (shown(e) && /Traceback \\(most recent call last\\)|^\\w*(Error|Exception): /m.test(e.textContent))
      add(e.closest('.output') || e, 'traceback in output');
  });
  return found;
}"""

# Citations and cross-references that did not resolve: sphinxcontrib-bibtex renders a missing key as an
# empty "[]" or "" in its span[id=idN]; Sphinx leaves an unresolved ref as an .xref outside any link;
# an unparsed role or "??" shows as text (code and math excluded).
_REFS_JS = """() => {
  const found = [], main = document.querySelector('main') || document.body;
  main.querySelectorAll('span[id]:not([class])').forEach(s => {
    if (/^id\\d+$/.test(s.id) && !s.querySelector('a') && /^[\\s\\[\\];,]*$/.test(s.textContent))
      found.push('unresolved citation (empty "' + s.textContent + '" at #' + s.id + ')');
  });
  main.querySelectorAll('.xref').forEach(x => {
    if (!x.closest('a')) found.push('unresolved reference: ' + x.textContent.trim());
  });
  main.querySelectorAll('.citation > .label').forEach(l => {  // alpha labels: FJ19, Gre20, JKA+18
    const t = l.textContent.replace(/[\\[\\]]/g, '').trim();
    if (!/^\\p{Lu}\\p{L}{0,3}\\+?\\d{2}[a-z]?$/u.test(t))
      found.push('bibliography label "[' + t + ']" is garbled (LaTeX markup in the .bib?)');
  });
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    if (n.parentElement.closest('pre, code, script, style, .math, .highlight, .cell_input')) continue;
    const m = n.textContent.match(/\\?\\?|\\{(cite|numref|ref|eq|doc)(:\\w+)?\\}`?[^`\\s]*/);
    if (m) found.push('unresolved text "' + m[0] + '" in: ' + n.textContent.trim().slice(0, 120));
  }
  return found;
}"""

# Every link: its absolute URL, and whether it is a citation (a link inside sphinxcontrib-bibtex's span).
_LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => ({
  href: a.href, raw: a.getAttribute('href'),
  cite: !!a.parentElement && a.parentElement.matches('span[id]:not([class])')
        && /^id\\d+$/.test(a.parentElement.id)}))"""

_WIDGETS_JS = """() => ({
  views: Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'))
               .map(s => s.textContent),
  states: Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]'))
                .map(s => s.textContent),
  texts: Array.from(document.querySelectorAll('.cell_output, .output')).map(o => o.textContent)})"""
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}  # ipywidgets' progress bars (tqdm.notebook's)
TEXT_BAR = re.compile(r"\d+%\|[^|\n]*\|")  # tqdm's text bar: "100%|█████| 5/5"


# Maths: every Sphinx math node (span.math / div.math) typeset by MathJax into an mjx-container, and no raw TeX
# (dollars, backslash-parentheses, theta, ...) left in the text a reader sees (code, scripts, MathJax's output
# excepted).
_MATHS_JS = """async () => {
  const main = document.querySelector('main') || document.body;
  const nodes = main.querySelectorAll('.math');
  if (!nodes.length) return [];
  const found = [];
  const started = await new Promise(done => {
    const t0 = Date.now();
    (function wait() {
      if (window.MathJax && MathJax.startup && MathJax.startup.promise) done(true);
      else if (Date.now() - t0 > 10000) done(false); else setTimeout(wait, 100);
    })();
  });
  if (!started) return [`maths not typeset: MathJax did not load (${nodes.length} math node(s) left as TeX)`];
  await MathJax.startup.promise;
  const raw = Array.from(nodes).filter(n => !n.querySelector('mjx-container'));
  if (raw.length) found.push(`maths not typeset: ${raw.length} of ${nodes.length} math node(s), first: `
                             + raw[0].textContent.trim().slice(0, 60));
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    if (n.parentElement.closest('pre, code, script, style, mjx-container, .highlight, .cell_input')) continue;
    const m = n.textContent.match(/\\$[^$\\s][^$]*\\$|\\\\[([]|\\\\(theta|mathbb|lVert|frac|mathrm|sum)\\b/);
    if (m) found.push('raw TeX "' + m[0].slice(0, 40) + '" in: ' + n.textContent.trim().slice(0, 100));
  }
  return found;
}"""


def check_page(page, url: str, screenshot: Path | None = None) -> list[str]:
    """Open `url` in a Playwright `page` and return the problems a reader would see (empty when clean)."""
    problems = []

    def on_console(msg):
        where = msg.location.get("url") or url
        # failed loads are reported, with their URL, by the response / requestfailed handlers
        if (msg.type == "error" and _is_local(where) and not msg.text.startswith("Failed to load resource")
                and not _known_theme_error(msg.text)):
            problems.append(f"console error: {msg.text} ({where})")

    def on_response(resp):
        if resp.status >= 400 and _is_local(resp.url):
            problems.append(f"HTTP {resp.status} for {resp.url}")

    def on_failed(req):
        if _is_local(req.url):
            problems.append(f"request failed: {req.url} ({req.failure})")

    def on_request(req):  # the book serves everything itself: nothing from a CDN, offline or not
        if urllib.parse.urlsplit(req.url).scheme in ("http", "https", "ws", "wss") and not _is_local(req.url):
            problems.append(f"request to another host: {req.url}")

    handlers = {"console": on_console, "response": on_response, "requestfailed": on_failed, "request": on_request,
                "pageerror": lambda err: _known_theme_error(str(err))
                or problems.append(f"uncaught JavaScript error: {err}")}
    for event, handler in handlers.items():
        page.on(event, handler)
    try:
        resp = page.goto(url, wait_until="load")
        if resp is None or not resp.ok:
            return problems + [f"page did not load: HTTP {resp.status if resp else 'no response'} for {url}"]
        page.wait_for_load_state("networkidle")
        problems += _check_images(page)
        problems += page.evaluate(_ERRORS_JS)
        problems += page.evaluate(_REFS_JS)
        problems += _check_links(page)
        problems += _check_widgets(page)
        problems += page.evaluate(_MATHS_JS)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True, timeout=90_000)  # the API page is ~140,000 px tall
    finally:
        for event, handler in handlers.items():
            page.remove_listener(event, handler)
    return problems


def _check_images(page) -> list[str]:
    imgs = page.locator("main img")
    if not imgs.count():
        return []
    problems = []
    for r in imgs.evaluate_all(_IMAGES_JS):
        if not (r["complete"] and r["w"] > 0):
            problems.append(f"image not loaded: {r['src']}")
        elif r["png"] is None:
            problems.append(f"image pixels unreadable: {r['src']} ({r['err']})")
        else:
            frac = _blank_fraction(base64.b64decode(r["png"].split(",", 1)[1]))
            if frac < BLANK_FRACTION:
                problems.append(f"image blank: {r['src']} (only {frac:.2%} of pixels differ from the background)")
    return problems


def _check_links(page) -> list[str]:
    """Every local link leads to a page that exists, and its #fragment to an element there."""
    here = page.url.split("#")[0]
    docs = {here: (200, _anchors(page.content()))}
    problems = []
    for link in {json.dumps(x, sort_keys=True): x for x in page.evaluate(_LINKS_JS)}.values():
        parts = urllib.parse.urlsplit(link["href"])
        if parts.scheme not in ("http", "https") or not _is_local(link["href"]):
            continue  # mailto:, javascript:, and other hosts (unreachable offline)
        target = urllib.parse.urlunsplit(parts._replace(fragment=""))
        if target not in docs:
            resp = page.request.get(target)
            is_html = "html" in resp.headers.get("content-type", "")
            docs[target] = (resp.status, _anchors(resp.text()) if resp.ok and is_html else {})
        status, anchors = docs[target]
        fragment = urllib.parse.unquote(parts.fragment)
        if status >= 400:
            problems.append(f"dead link: {link['raw']} (HTTP {status})")
        elif fragment and fragment not in anchors:
            problems.append(f"dead anchor: {link['raw']} (no #{fragment} in {target})")
        elif link["cite"] and fragment:
            attrs = anchors[fragment]
            if attrs.get("role") != "doc-biblioentry" and "citation" not in attrs.get("class", "").split():
                problems.append(f"citation link {link['raw']} does not point at a bibliography entry")
    return problems


def _check_widgets(page) -> list[str]:
    """No output holds a progress bar (an ipywidgets progress model, or tqdm's text bar); a page that displays
    ipywidgets embeds their state, with every displayed widget's model in it."""
    found = page.evaluate(_WIDGETS_JS)
    bars = dict.fromkeys(m[0] for t in found["texts"] for m in [TEXT_BAR.search(t)] if m)  # .output in .cell_output
    problems = [f"progress bar in an output: {bar!r}" for bar in bars]
    for state in found["states"]:
        models = json.loads(state).get("state", {}).values()
        problems += [f"progress-bar widget ({m.get('model_name')}) in the page's widget state" for m in models
                     if m.get("model_name") in PROGRESS_MODELS]
    if not found["views"]:
        return problems
    if not found["states"]:
        return problems + [f"{len(found['views'])} widget view(s) but no embedded widget state"]
    models = set().union(*(json.loads(s).get("state", {}) for s in found["states"]))
    missing = [v["model_id"] for v in map(json.loads, found["views"]) if v.get("model_id") not in models]
    return problems + [f"widget model {m} is displayed but not in the embedded state" for m in missing]


WIDE = {"width": 1400, "height": 900}  # the width at which tables and figures must fit the text column
SMALLEST_SHOWN = 0.7  # a figure shown below this fraction of its drawn width must enlarge on click

# Every displayed table and image in the main content, against the text column (the article's content box):
# none wider than it or reaching past it, none scrolled sideways inside a container, and every image shown
# below SMALLEST_SHOWN of its natural width enlargeable (the book's click-to-enlarge, or a link to the image).
_LAYOUT_JS = """async (smallest) => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const cs = getComputedStyle(col), cr = col.getBoundingClientRect();
  const left = cr.left + parseFloat(cs.paddingLeft), right = cr.right - parseFloat(cs.paddingRight);
  const found = [], px = v => Math.round(v) + ' px';
  const name = e => e.tagName === 'IMG' ? 'image ' + (e.getAttribute('src') || '').slice(0, 60)
    : 'table "' + (e.querySelector('caption, th, td') || e).textContent.trim().replace(/\\s+/g, ' ').slice(0, 50) + '"';
  for (const e of document.querySelectorAll('main table, main img')) {
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) continue;  // not displayed (inside a collapsed toggle)
    if (r.width > right - left + 1 || r.left < left - 1 || r.right > right + 1) {
      found.push(`${name(e)} is ${px(r.width)} wide, beyond the ${px(right - left)} text column`);
    } else {
      for (let a = e.parentElement; a && a !== col; a = a.parentElement) {
        const ar = a.getBoundingClientRect(), inner = ar.left + a.clientLeft + a.clientWidth;
        if (getComputedStyle(a).overflowX !== 'visible' && (r.right > inner + 1 || r.left < ar.left - 1)) {
          found.push(`${name(e)} (${px(r.width)}) scrolls sideways in its ${px(a.clientWidth)} container`);
          break;
        }
      }
    }
    if (e.tagName === 'IMG' && e.naturalWidth && r.width < smallest * e.naturalWidth) {
      const link = e.closest('a[href]');
      if (!e.hasAttribute('data-wedges-zoom') && !(link && link.href === e.src))
        found.push(`${name(e)} is shown at ${Math.round(100 * r.width / e.naturalWidth)} % of its ` +
                   `${px(e.naturalWidth)} width and does not enlarge on click`);
    }
  }
  return found;
}"""


def check_layout(page, url: str) -> list[str]:
    """Open `url` at WIDE and return every table or image that does not fit the text column, and every image
    shown small that cannot be enlarged (empty when all fit)."""
    page.set_viewport_size(WIDE)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page.evaluate(_LAYOUT_JS, SMALLEST_SHOWN)


# --- fixtures: a browser, a server, a built book ---------------------------------------------------

def _chromium() -> str | None:
    for candidate in (os.environ.get("WEDGES_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright; skipped without one, except in CI (CI=true)."""
    exe = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if exe is None or sync_playwright is None:
        why = ("chromium not found (apt-get install chromium)" if exe is None
               else "the playwright package is not installed (pip install -r requirements.txt)")
        if IN_CI:
            pytest.fail(f"browser test cannot run in CI: {why}")
        pytest.skip(f"browser test needs a browser: {why}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own context (so console messages and state never leak between pages)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


@contextmanager
def serve(directory: Path):
    """Serve `directory` on 127.0.0.1 at a free port in a thread; yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def build_book(source: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    """`jupyter-book build source --path-output out` at the smoke scale; HTML lands in out/_build/html."""
    exe = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run([str(exe), "build", str(source), "--path-output", str(out), *flags],
                          env={**os.environ, "WEDGES_SCALE": "smoke"}, capture_output=True, text=True,
                          timeout=1500)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """(html folder, build result or None): WEDGES_BOOK_HTML if set, else the book built at smoke scale."""
    if os.environ.get("WEDGES_BOOK_HTML"):
        html = Path(os.environ["WEDGES_BOOK_HTML"])
        assert (html / "index.html").is_file(), f"WEDGES_BOOK_HTML={html} holds no built book (no index.html)"
        return html, None
    out = tmp_path_factory.mktemp("book")
    return out / "_build" / "html", build_book(ROOT, out, "-W", "-n", "--keep-going")


@pytest.fixture(scope="module")
def book_url(book):
    html, _ = book
    if not (html / "index.html").is_file():
        pytest.fail(f"the book build produced no HTML in {html}")
    with serve(html) as url:
        yield url


# --- the book --------------------------------------------------------------------------------------

def test_book_builds_at_smoke_scale(book):
    _, build = book
    if build is None:
        pytest.skip("WEDGES_BOOK_HTML given: the book was built (and its build checked) outside this test")
    assert build.returncode == 0, f"jupyter-book build failed:\n{build.stdout[-6000:]}\n{build.stderr[-3000:]}"


def test_every_built_page_is_in_the_toc(book):
    html, _ = book
    built = {p.relative_to(html).as_posix() for p in html.rglob("*.html")
             if not p.relative_to(html).parts[0].startswith("_")} - {"genindex.html", "search.html", "index.html"}
    assert built == set(PAGES), f"pages built but not in _toc.yml: {built - set(PAGES)}; " \
                                f"in _toc.yml but not built: {set(PAGES) - built}"


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_cleanly(path, page, book_url):
    shot = SCREENSHOTS / (path.removesuffix(".html").replace("/", "__") + ".png")
    problems = check_page(page, book_url + path, screenshot=shot)
    assert not problems, f"{path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", PAGES)
def test_tables_and_figures_fit_the_text_column(path, page, book_url):
    """At 1400 px no table or image is wider than the text column (none scrolls sideways), and every image shown
    below 70 % of its drawn width enlarges on click."""
    problems = check_layout(page, book_url + path)
    assert not problems, f"{path} at {WIDE['width']} px:\n  " + "\n  ".join(problems)


def _declaring_pages() -> list[str]:
    """The toc pages whose chapter (book/NAME.py) declares its checks with verdicts.what_would_count."""
    return [p for p in PAGES if (src := ROOT / p.replace(".html", ".py")).is_file()
            and "what_would_count(" in src.read_text()]


# Every "What would count" box: its table's header cells and the cells of each row.
_DECLARATIONS_JS = """() => Array.from(document.querySelectorAll('main .admonition')).filter(a =>
    (a.querySelector('.admonition-title') || {}).textContent === 'What would count').map(a => ({
  head: Array.from(a.querySelectorAll('thead th')).map(th => th.textContent.trim()),
  rows: Array.from(a.querySelectorAll('tbody tr')).map(tr =>
    Array.from(tr.querySelectorAll('td')).map(td => td.textContent.trim().replace(/\\s+/g, ' ')))}))"""


@pytest.mark.parametrize("path", _declaring_pages())
def test_every_declared_check_reads_right(path, page, book_url):
    """Each row of each chapter's "What would count" box is one check: its name, a kind, a hypothesis, a non-empty
    statistic and a "holds if" that is a comparison with a number (a '|' in a declaration once split its row)."""
    page.goto(book_url + path)
    boxes = page.evaluate(_DECLARATIONS_JS)
    assert boxes, f"{path} has no 'What would count' box"
    bad = []
    for box in boxes:
        assert len(box["head"]) == 5 and box["head"][-1] == "holds if", f"{path}: the box's columns are {box['head']}"
        assert box["rows"], f"{path}: a 'What would count' box declares no check"
        for cells in box["rows"]:
            name = cells[0] if cells else "?"
            if len(cells) != 5:
                bad.append(f"{name}: {len(cells)} cells, not 5: {cells}")
                continue
            check, kind, _hypothesis, statistic, holds = cells
            if not re.fullmatch(r"\w+", check) or kind not in verdicts.KINDS:
                bad.append(f"{name}: check {check!r} of kind {kind!r}")
            if not statistic:
                bad.append(f"{name}: no statistic")
            if not re.match(r"[<>] ?[-+]?(\d|inf)", holds):
                bad.append(f"{name}: 'holds if' reads {holds!r}, not a comparison with a number")
    assert not bad, f"{path}: declarations that do not read right:\n  " + "\n  ".join(bad)


def test_toy_model_leaves_live_widgets_out_of_the_static_page(page, book, book_url):
    """Without a kernel the toy's ipywidgets sliders cannot redraw its figure, and their manager would come from a
    CDN: the page loads no widget manager and renders no live widget; the precomputed slider (next test) moves the
    figure instead. Jupyter still shows the live sliders (tests/test_jupyterlab.py)."""
    if not (book[0] / WIDGET_PAGE).is_file():
        pytest.skip(f"{WIDGET_PAGE} is not in the book yet")
    page.goto(book_url + WIDGET_PAGE)
    page.wait_for_load_state("networkidle")
    managers = page.locator('script[src*="html-manager"], script[src*="require.js"], script[src*="require.min.js"]')
    assert managers.count() == 0, f"{WIDGET_PAGE} loads a widget manager: {managers.first.get_attribute('src')}"
    assert page.locator("main .jupyter-widgets, main .widget-slider").count() == 0, "a live widget in the page"


SLIDER_PAGES = [f"book/{p.stem}.html" for p in sorted((ROOT / "book").glob("0[1-6]_*.py"))]  # toy + claims


@pytest.mark.parametrize("path", SLIDER_PAGES)
def test_each_claim_chapter_has_a_figure_that_moves_without_a_kernel(path, page, book, book_url):
    """The toy chapter and every claim chapter (02-06) show a precomputed slider (plots.frames): moving it changes
    the label, the image, the picture on screen and the image's alt text, with no kernel behind the page."""
    if not (book[0] / path).is_file():
        pytest.skip(f"{path} is not in the book yet")
    page.goto(book_url + path)
    box = page.locator(".wedges-frames").first
    assert page.locator(".wedges-frames").count() >= 1, f"{path}: no static slider (plots.frames)"
    slider, img, label = box.locator('input[type="range"]'), box.locator("img"), box.locator("output")
    img.scroll_into_view_if_needed()
    before = (img.get_attribute("src"), label.text_content(), img.screenshot(), img.get_attribute("alt"))
    last = int(slider.get_attribute("max"))
    slider.fill(str(last if int(slider.input_value()) != last else 0))  # sets the value, fires 'input'
    page.wait_for_timeout(200)
    after = (img.get_attribute("src"), label.text_content(), img.screenshot(), img.get_attribute("alt"))
    assert after[1] != before[1], f"the slider's label did not change ({before[1]!r})"
    assert after[0] != before[0], "the slider moved but the figure's image stayed the same"
    assert after[2] != before[2], "the slider moved but the picture on screen did not change"
    assert after[3] != before[3] and after[3].endswith(after[1]), f"the alt text did not follow: {after[3]!r}"
    assert _blank_fraction(after[2]) >= BLANK_FRACTION, "the new frame is blank"


# --- the checker on a deliberately broken book -----------------------------------------------------

BROKEN_BOOK = {
    "_config.yml": """title: broken
execute: {execute_notebooks: force, allow_errors: true, timeout: 120}
sphinx:
  extra_extensions: [sphinxcontrib.bibtex]
  config: {bibtex_bibfiles: [refs.bib], bibtex_reference_style: author_year}
""",
    "_toc.yml": "format: jb-book\nroot: index\nchapters:\n  - file: broken\n  - file: bars\n",
    "refs.bib": "@article{real2020, title = {A real paper}, author = {Author, Ann}, journal = {J}, year = {2020}}\n"
                "@article{accent2018, title = {Accents}, author = {Jastrz{\\k{e}}bski, Stanis{\\l}aw and Kenton, "
                "Zachary and Arpit, Devansh}, journal = {J}, year = {2018}}\n",
    "index.md": """# A clean page

A citation {cite:p}`real2020`, a link to [the broken page](broken.md), an image:

![noise](noise.png)

```{bibliography}
:filter: key == "real2020"
```
""",
    "broken.md": """---
file_format: mystnb
kernelspec: {name: python3, display_name: Python 3}
---
# A broken page

Missing citations {cite:p}`nosuchkey2099` and {cite:t}`nosuchkey2099`; a missing figure {numref}`no-such-fig`.

Maths that nothing typesets (no local MathJax in this book, and its CDN unreachable): {math}`\\theta \\in \\mathbb{R}^D`.

<img src="missing.png" alt="missing">

![blank](blank.png)

<a href="nope.html">a dead link</a>, <a href="index.html#nowhere">a dead anchor</a>, <a href="index.html#id1">a live one</a>.

<div class="output error">Traceback (most recent call last): a fake error output</div>

<script>window.noSuchFunction();</script>

<script type="application/vnd.jupyter.widget-view+json">{"model_id": "0123abcd", "version_major": 2, "version_minor": 0}</script>

<script src="https://cdn.example.org/library.js"></script>

| wide_table | incomprehensibilities | incomprehensibilities | incomprehensibilities | incomprehensibilities | incomprehensibilities | incomprehensibilities |
|---|---|---|---|---|---|---|
| uncharacteristically | uncharacteristically | uncharacteristically | uncharacteristically | uncharacteristically | uncharacteristically | uncharacteristically |

![a wide figure](wide.png)

An author's name in LaTeX markup {cite:p}`accent2018`.

```{bibliography}
:filter: key == "accent2018"
```

```{code-cell} ipython3
1 / 0
```
""",  # noqa: E501 - the page's long lines are its content
    "bars.md": """---
file_format: mystnb
kernelspec: {name: python3, display_name: Python 3}
---
# Progress bars

```{code-cell} ipython3
import sys
from tqdm import tqdm
from tqdm.notebook import tqdm as tqdm_widget

_ = list(tqdm(range(3), file=sys.stdout, desc="text")), list(tqdm_widget(range(3), desc="widget"))
```
""",
}

# each problem of broken.md, as (what it is, a substring of the checker's message)
EXPECTED = [("missing image file", "image not loaded: missing.png"), ("its 404", "HTTP 404 for"),
            ("blank image", "image blank: _images/"), ("dead page link", "dead link: nope.html"),
            ("dead anchor", "dead anchor: index.html#nowhere"),
            ("fake error output", "error output: Traceback (most recent call last): a fake"),
            ("executed cell's error", "ZeroDivisionError"), ("missing citation", "unresolved citation (empty \"[]\""),
            ("missing textual citation", "unresolved citation (empty \"\""),
            ("missing figure ref", "unresolved reference: no-such-fig"), ("uncaught JS error", "noSuchFunction"),
            ("widget shown without its state", "1 widget view(s) but no embedded widget state"),
            ("untypeset maths", "maths not typeset: MathJax did not load"),
            ("script from a CDN", "request to another host: https://cdn.example.org/library.js"),
            ("garbled bibliography label", 'bibliography label "[JastrzkebskiKA18]" is garbled')]
# bars.md's problems, and broken.md's at WIDE (check_layout)
EXPECTED_BARS = [("tqdm's text bar", "progress bar in an output: '100%|"),
                 ("tqdm's widget bar", "progress-bar widget (FloatProgressModel)"),
                 ("the widget manager from a CDN", "request to another host: https://cdn")]
EXPECTED_LAYOUT = [("wide table", 'table "wide_table" is'), ("a figure shown small", "does not enlarge on click")]


def test_checker_reports_each_problem_of_a_broken_book(tmp_path, page):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in BROKEN_BOOK.items():
        (src / name).write_text(text)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(src / "noise.png")
    Image.new("RGB", (80, 60), "white").save(src / "blank.png")
    Image.fromarray(rng.integers(0, 256, (200, 2400, 3), dtype=np.uint8)).save(src / "wide.png")
    build = build_book(src, tmp_path)  # no -W: the build succeeds, the browser must find the problems
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    with serve(tmp_path / "_build" / "html") as url:
        clean = check_page(page, url + "index.html", screenshot=SCREENSHOTS / "broken_book__index.png")
        broken = check_page(page, url + "broken.html", screenshot=SCREENSHOTS / "broken_book__broken.png")
        bars = check_page(page, url + "bars.html")
        clean_layout = check_layout(page, url + "index.html")
        layout = check_layout(page, url + "broken.html")
    # this book has no local MathJax (broken.md's maths must fail), so its pages ask the CDN for it: expected here
    clean = [p for p in clean if not p.startswith("request to another host: https://cdn.jsdelivr.net/npm/mathjax@")]
    assert clean == [] and clean_layout == [], f"false alarms on the clean page: {clean + clean_layout}"
    for found, expected in ((broken, EXPECTED), (bars, EXPECTED_BARS), (layout, EXPECTED_LAYOUT)):
        report = "\n  ".join(found)
        for what, needle in expected:
            assert any(needle in p for p in found), f"the checker missed the {what} ({needle!r}); it said:\n  {report}"
    assert not any("index.html#id1" in p for p in broken), f"a live anchor was reported dead:\n  {broken}"


# --- verdicts as the reader sees them ---------------------------------------------------------------

def _glued(executed: Path, suffix: str) -> dict[str, str]:
    """Every ``*{suffix}`` a chapter glued, from the glue files myst-nb writes beside the executed notebooks."""
    found = {}
    for path in executed.rglob("*.glue.json"):
        for name, out in json.loads(path.read_text()).items():
            if name.endswith(suffix):
                found[name] = out["data"]["text/plain"].strip("'\"")
    return found


def _glued_badges(executed: Path) -> dict[str, str]:
    return _glued(executed, "_badge")


_SECTION_ROWS_JS = """id => Array.from(document.querySelectorAll(`section#${id} table tbody tr`)).map(tr =>
  Array.from(tr.querySelectorAll('td:first-child code')).map(c => c.textContent.trim()).pop())"""


_VERDICT_ROWS_JS = """() => Array.from(document.querySelectorAll('main table tbody tr')).map(tr => ({
  names: Array.from(tr.querySelectorAll('td:first-child code')).map(c => c.textContent.trim()),
  cells: Array.from(tr.querySelectorAll('td')).map(td => td.textContent.trim())}))"""


def test_intro_shows_each_chapters_recorded_verdict(page, book, book_url):
    html, _ = book
    badges = _glued_badges(html.parent / "jupyter_execute")
    assert badges, f"no glued verdicts found in {html.parent / 'jupyter_execute'}"
    page.goto(book_url + "book/intro.html")
    rows = [r for r in page.evaluate(_VERDICT_ROWS_JS) if r["names"]]
    assert rows, "the intro has no claims table with check names"
    states = tuple(f"{icon} {state}" for state, icon in verdicts.ICONS.items())
    chapters = set()
    for row in rows:
        name = row["names"][-1]  # the claim cell ends with its check's name: "... (`name`)"
        shown = row["cells"][-1]
        assert shown in states, f"intro row {name}: verdict cell {shown!r} is not one of {states}"
        assert badges.get(f"{name}_badge") == shown, f"intro row {name} shows {shown!r}; the chapter recorded " \
                                                    f"{badges.get(f'{name}_badge')!r}"
        chapters.add(row["cells"][1])
    assert len(chapters) >= 7, f"the intro's verdicts cover only the chapters {sorted(chapters)}"
    kinds = _glued(html.parent / "jupyter_execute", "_kind")
    sanity_rows = page.evaluate(_SECTION_ROWS_JS, "sanity-checks")
    assert sanity_rows and all(kinds.get(f"{n}_kind") == "sanity" for n in sanity_rows), sanity_rows
    claims_rows = page.evaluate(_SECTION_ROWS_JS, "the-claims")
    assert claims_rows and not set(claims_rows) & set(sanity_rows), "a sanity check among the claims"
    assert all(kinds.get(f"{n}_kind") in ("primary", None) for n in claims_rows), claims_rows
    tally = page.locator("main p", has_text="This build, across every chapter").first.text_content()
    assert re.search(r"\d+ primary checks judged in \d+ chapters: \d+ ✔ reproduced, \d+ ◐ inconclusive, "
                     r"\d+ ✘ not reproduced, \d+ ✖ contradicted; \d+ of \d+ sanity checks passed", tally), tally


FOUR_VERDICTS = {
    "_config.yml": """title: verdicts
only_build_toc_files: true
execute:
  execute_notebooks: force
sphinx:
  config:
    nb_render_markdown_format: myst
    myst_enable_extensions: [colon_fence]
    nb_custom_formats:
      .py:
        - wedges_lib.notebook.reads
        - fmt: py:percent
parse:
  myst_enable_extensions: [colon_fence]
""",
    "_toc.yml": "format: jb-book\nroot: index\nchapters:\n  - file: demo\n",
    "index.md": """# Claims

| claim | chapter | measured | verdict |
|---|---|---|---|
| holds (`demo_yes`) | demo | {glue:text}`demo.py::demo_yes_summary:s` | {glue:text}`demo.py::demo_yes_badge:s` |
| inside the noise (`demo_partly`) | demo | {glue:text}`demo.py::demo_partly_summary:s` | {glue:text}`demo.py::demo_partly_badge:s` |
| the other way, in the noise (`demo_no`) | demo | {glue:text}`demo.py::demo_no_summary:s` | {glue:text}`demo.py::demo_no_badge:s` |
| the opposite (`demo_opposite`) | demo | {glue:text}`demo.py::demo_opposite_summary:s` | {glue:text}`demo.py::demo_opposite_badge:s` |
| the headline (`demo`) | demo | {glue:text}`demo.py::demo_summary:s` | {glue:text}`demo.py::demo_badge:s` |
""",  # noqa: E501
    "demo.py": """# %% [markdown]
# # Three verdicts
# %% tags=["remove-input"]
from wedges_lib import verdicts
from wedges_lib.verdicts import Claim

claims = verdicts.declare(*(Claim(f"demo_{s}", "an effect | a pipe", "|effect|", ">", 0.0)
                            for s in ("yes", "partly", "no", "opposite")))
verdicts.what_would_count(claims)
# %% tags=["remove-cell"]
judged = [verdicts.judge(claims[f"demo_{name}"], values, "smoke") for name, values in (
    ("yes", [1.0, 1.1, 0.9]), ("partly", [0.5, -0.3, 0.4]), ("no", [-0.5, 0.3, -0.4]),
    ("opposite", [-1.0, -1.1, -0.9]))]
verdicts.combine("demo", judged)
""",
}


def build_small_book(files: dict[str, str], tmp_path: Path, prepare=None) -> None:
    """Write a small book's files into tmp_path/src (then call ``prepare(src)``, e.g. to add images) and build it
    (warnings are errors) into tmp_path/_build."""
    src = tmp_path / "src"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    if prepare is not None:
        prepare(src)
    build = build_book(src, tmp_path, "-W", "-n")
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]


def test_each_verdict_state_renders_in_a_table_and_the_declaration_box(tmp_path, page):
    """The rendering path of all four states and a headline: judged in a chapter, glued into a table on another
    page; a declaration with pipes in it keeps its row."""
    build_small_book(FOUR_VERDICTS, tmp_path)
    with serve(tmp_path / "_build" / "html") as url:
        problems = check_page(page, url + "index.html")
        rows = {r["names"][0]: r["cells"][-1] for r in page.evaluate(_VERDICT_ROWS_JS) if r["names"]}
        page.goto(url + "demo.html")
        box = page.locator(".admonition", has_text="What would count")
        box_text = box.first.text_content() if box.count() else ""
    assert not problems, problems
    assert rows == {"demo_yes": "✔ reproduced", "demo_partly": "◐ inconclusive", "demo_no": "✘ not reproduced",
                    "demo_opposite": "✖ contradicted", "demo": "✖ contradicted"}, rows
    assert "demo_partly" in box_text and "> 0" in box_text, f"no 'What would count' box: {box_text!r}"
    assert "an effect | a pipe" in box_text and "|effect|" in box_text, "a pipe in a declaration broke its row"


# --- maths served with the book, and each chapter's notebook to download ------------------------------

OFFLINE_BOOK = {
    "_config.yml": """title: offline
only_build_toc_files: true
execute:
  execute_notebooks: force
sphinx:
  extra_extensions: [wedges_lib.notebook]
  config:
    nb_custom_formats:
      .py:
        - wedges_lib.notebook.reads
        - fmt: py:percent
parse:
  myst_enable_extensions: [dollarmath, amsmath]
""",
    "_toc.yml": "format: jb-book\nroot: index\nchapters:\n  - file: chapter\n",
    "index.md": "# Maths\n\nInline $\\theta \\in \\mathbb{R}^D$, and displayed:\n\n$$\\lVert\\theta\\rVert = "
                "\\sqrt{\\sum_i \\theta_i^2}$$\n",
    "chapter.py": """# %% [markdown]
# # A chapter
#
# The radius $\\\\lVert\\\\theta\\\\rVert$ of a point.
# %%
print(6 * 7)
""",
}


def test_maths_is_typeset_offline_and_chapters_download_as_notebooks(tmp_path, page):
    """The book's extension serves MathJax 3 from _static (the network is blocked) and offers each chapter's
    executed notebook in the download menu."""
    build_small_book(OFFLINE_BOOK, tmp_path)
    html = tmp_path / "_build" / "html"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    with serve(html) as url:
        for name in ("index.html", "chapter.html"):
            problems = check_page(page, url + name)
            assert not problems, f"{name}: {problems}"
            typeset = page.locator("main mjx-container").count()
            assert typeset >= (2 if name == "index.html" else 1), f"{name}: {typeset} typeset formulas"
        links = page.locator('a[href$="chapter.ipynb"]')
        assert links.count() >= 1, "the chapter's download menu has no .ipynb"
        nb = json.loads(page.request.get(url + "_sources/chapter.ipynb").text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert any("42" in "".join(o.get("text", "")) for o in outputs), "the downloaded notebook is not the executed one"


# --- the book's own CSS and JavaScript (_static/): tables that fit, figures that enlarge ----------------

FIT_BOOK = {
    "_config.yml": "title: fit\nonly_build_toc_files: true\n",
    "_toc.yml": "format: jb-book\nroot: index\n",
    "index.md": """# Wide things

| check | mean | 95 % interval | n | threshold | gain | spread | barrier | radius | ratio | verdict |
|---|---|---|---|---|---|---|---|---|---|---|
| uncharacteristically_long_name | 0.00311234 | [0.00139123, 0.00483456] | 5 | 0.0500000 | 1.8312345 | 0.0206789 | 2.4112345 | 19.912345 | 0.5061234 | reproduced |

![a wide figure](wide.png)
""",  # noqa: E501 - the table's row is its content
}


def test_book_static_fits_wide_tables_and_enlarges_small_figures(tmp_path, page):
    """With the book's _static (wedges.css, wedges.js), an 11-column table fits the text column at 1400 px, and a
    figure drawn 2.5 times wider than the column opens at full size on click (and on Enter), closing on Escape."""
    def prepare(src):
        shutil.copytree(ROOT / "_static", src / "_static")
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (300, 2000, 3), dtype=np.uint8)).save(src / "wide.png")

    build_small_book(FIT_BOOK, tmp_path, prepare)
    with serve(tmp_path / "_build" / "html") as url:
        problems = check_page(page, url + "index.html") + check_layout(page, url + "index.html")
        fit = page.locator("main table").get_attribute("data-wedges-fit")
        img = page.locator("main img")
        shown = img.bounding_box()["width"]
        img.click()
        big = page.locator(".wedges-zoom img")
        big.wait_for(state="visible", timeout=5000)
        enlarged = big.bounding_box()["width"]
        page.keyboard.press("Escape")
        closed = page.locator(".wedges-zoom").count()
        img.focus()
        page.keyboard.press("Enter")
        by_key = page.locator(".wedges-zoom").count()
    assert not problems, problems
    assert fit is not None, "the wide table fitted without wedges.js tightening it: make it wider"
    assert shown < 0.5 * 2000, f"the figure is shown {shown:.0f} px wide: not small enough to test enlarging"
    assert enlarged >= min(2000, WIDE["width"]) * 0.9, f"the enlarged figure is {enlarged:.0f} px wide"
    assert closed == 0 and by_key == 1, f"Escape left {closed} overlay(s); Enter opened {by_key}"
