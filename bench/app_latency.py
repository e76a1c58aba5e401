"""App latency as a person feels it: headless Chromium against ``streamlit run app.py``.

Starts the app (``tests.browser.harness``: a free 127.0.0.1 port, the local fake Spotify for
the sign-in, PKCE) on the committed demo bundle (or ``--models DIR``), and times, in one run,
from a click to what the person waits for being on the screen:

- open the app: address entered -> the Home page's sign-in link drawn (a fresh browser);
- demo: "Listen as this demo listener" -> "Listening as ..." -> "See your recommendations" ->
  the first recommendation card;
- sign-in: "Sign in with Spotify" -> the fake's consent page -> "Agree as Alice" -> back on the
  app, "Listening as ..." -> "See your recommendations" -> the first recommendation card;
- each page after the first, in the signed-in session: sidebar click -> the page's title and
  its main content (the last chart, the last card, the table, ...);
- Similar songs: a typed query -> its ten cards; a rerun on Recommendations: "How many" moved
  20 -> 25 -> the 25th card.

The automated clicks follow each other at once: the numbers leave out a person's reading time.
Every wait is bounded (``--wait``); a step that times out is printed as such and the run goes
on. A measurement, never a pass/fail: each line shows p50 and max next to its target, and the
last line names the worst page. ``--against DIR`` runs a second checkout's app (say, main
exported with ``git archive``) beside this one and alternates the repetitions between the two,
so a before/after comparison on a shared, busy machine sees the same load. Run from the
repository root::

    python bench/app_latency.py [--quick] [--reps 5] [--models DIR] [--against DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.harness import CHROMIUM, CHROMIUM_FLAGS, VIEWPORT, signed_in_note, streamlit_app  # noqa: E402
from tests.fake_spotify import FakeSpotify  # noqa: E402

try:  # requirements-dev.txt; without it the bench says so and measures nothing
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

FIRST_TARGET_S = 2.0  # sign-in / demo pick -> first recommendations
PAGE_TARGET_S = 1.0  # each page after the first, and a rerun
#: A drawn chart: Vega-Lite's SVG or canvas (this app), or a Plotly plot (checkouts before it moved).
CHART = "[data-testid='stVegaLiteChart'] svg, [data-testid='stVegaLiteChart'] canvas, .js-plotly-plot"
#: Pages after the first, in visiting order: sidebar title, page heading, and what "rendered"
#: means: every (selector, count) drawn, i.e. the count-th match of each selector visible.
TABLE = "[data-testid='stDataFrame']"
PAGES: tuple[tuple[str, str, tuple[tuple[str, int], ...]], ...] = (
    ("Your taste", "Your taste", ((CHART, 5),)),  # sound, clusters, artists, genres, eras
    ("Recommendations", "Recommendations", ((".rec-card", 20),)),  # every card of the default list
    ("Explore", "Explore the catalogue", ((CHART, 1), (TABLE, 1))),  # the map and the cluster table
    ("Similar songs", "Similar songs", (("[data-testid='stTextInput']", 1),)),  # the search box (nothing below yet)
    ("Playlists", "Playlists", ((TABLE, 1), ("[data-testid='stFormSubmitButton']", 1))),  # the list, "Save to Spotify"
    ("Model", "The model", (("text=Refresh history", 1),)),
)


@dataclass
class Timings:
    """Seconds per measured step, in the order first measured (None: the step timed out)."""

    steps: dict[str, list[float | None]] = field(default_factory=dict)
    targets: dict[str, float | None] = field(default_factory=dict)

    def add(self, name: str, seconds: float | None, target: float | None) -> None:
        self.steps.setdefault(name, []).append(seconds)
        self.targets.setdefault(name, target)


def timed(timings: Timings, name: str, target: float | None, action: Callable[[], None],
          done: Callable[[], None]) -> float | None:
    """Time ``action`` (a click) until ``done`` (a wait) returns; None (and go on) on a timeout."""
    start = time.perf_counter()
    try:
        action()
        done()
    except Exception as exc:  # Playwright's TimeoutError, or the page went away: record, carry on
        print(f"  {name}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}", file=sys.stderr)
        timings.add(name, None, target)
        return None
    seconds = time.perf_counter() - start
    timings.add(name, seconds, target)
    return seconds


def settle(page: Page) -> None:
    """Wait (untimed) until Streamlit's script run is over, so the next click starts clean."""
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden")


def nav(page: Page, title: str) -> Callable[[], None]:
    """A click on ``title`` in the sidebar navigation."""
    return lambda: page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def rendered(page: Page, heading: str, drawn: tuple[tuple[str, int], ...]) -> Callable[[], None]:
    """A wait for the page's heading and the ``count``-th match of each ``(selector, count)``."""

    def wait() -> None:
        page.get_by_role("heading", name=heading).first.wait_for()
        for selector, count in drawn:
            page.locator(selector).nth(count - 1).wait_for()
    return wait


@contextmanager
def fresh_page(browser: Browser, *, wait_ms: float) -> Iterator[Page]:
    """A page in a new browser context (a person's first visit: no cache, no cookies), every
    wait bounded by ``wait_ms``; the context is closed on exit."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(wait_ms)
    try:
        yield context.new_page()
    finally:
        context.close()


#: One timed sub-step of a chain: its name, the click, the wait.
Step = tuple[str, Callable[[], None], Callable[[], None]]


def timed_chain(timings: Timings, name: str, target: float | None, steps: list[Step]) -> bool:
    """Time each step (untargeted) and, when none timed out, their sum as ``name`` against
    ``target``; stops at the first timeout (the rest would wait on a page that is not there)
    and records ``name`` as timed out. True when every step finished."""
    start = time.perf_counter()
    for step, action, done in steps:
        if timed(timings, step, None, action, done) is None:
            timings.add(name, None, target)
            return False
    timings.add(name, time.perf_counter() - start, target)
    return True


def first_visit(browser: Browser, url: str, timings: Timings, *, wait_ms: float) -> None:
    """The first visitor after the server started: Home, with the model loaded for it."""
    with fresh_page(browser, wait_ms=wait_ms) as page:
        timed(timings, "first visitor after start -> Home drawn (loads the model)", None, lambda: page.goto(url),
              lambda: page.get_by_role("link", name="Sign in with Spotify").wait_for())


def first_card(page: Page) -> Step:
    """"See your recommendations" on Home -> the first recommendation card drawn."""
    return ("\"See your recommendations\" -> first card", lambda: page.get_by_text("See your recommendations").click(),
            lambda: page.locator(".rec-card").first.wait_for())


def demo_run(browser: Browser, url: str, timings: Timings, *, wait_ms: float) -> None:
    """A fresh browser: open the app, pick the first demo listener, reach the first card."""
    with fresh_page(browser, wait_ms=wait_ms) as page:
        timed(timings, "open the app -> Home drawn", PAGE_TARGET_S, lambda: page.goto(url),
              lambda: page.get_by_role("link", name="Sign in with Spotify").wait_for())
        settle(page)
        page.get_by_role("tab", name="Try the demo").click()
        listen = page.get_by_role("button", name="Listen as this demo listener")
        listen.wait_for()
        recs = first_card(page)
        timed_chain(timings, "demo pick -> first recommendation card", FIRST_TARGET_S, [
            ("  demo: click -> \"Listening as\"", listen.click,
             lambda: page.get_by_test_id("stAlertContentSuccess").filter(has_text="Listening as").wait_for()),
            (f"  demo: {recs[0]}", recs[1], recs[2]),
        ])


def signed_in_run(browser: Browser, url: str, timings: Timings, *, wait_ms: float) -> None:
    """A fresh browser: sign in through the fake Spotify, then every page, a search, a rerun."""
    with fresh_page(browser, wait_ms=wait_ms) as page:
        page.goto(url)
        link = page.get_by_role("link", name="Sign in with Spotify")
        link.wait_for()
        settle(page)
        agree = page.get_by_text("Agree as Alice Andersson")
        recs = first_card(page)
        if not timed_chain(timings, "sign-in -> first recommendation card", FIRST_TARGET_S, [
            ("  sign-in: click -> consent page (the fake Spotify)", link.click, agree.wait_for),
            ("  sign-in: agree -> back, \"Listening as\"", agree.click, signed_in_note(page).wait_for),
            (f"  sign-in: {recs[0]}", recs[1], recs[2]),
        ]):
            return
        settle(page)
        for title, heading, drawn in PAGES:
            timed(timings, f"page: {title}", PAGE_TARGET_S, nav(page, title), rendered(page, heading, drawn))
            settle(page)
            if title == "Similar songs":
                similar_search(page, timings)
        nav(page, "Recommendations")()
        rendered(page, "Recommendations", ((".rec-card", 20),))()
        settle(page)
        slider = page.get_by_test_id("stSlider").filter(has_text="How many").get_by_role("slider")
        slider.focus()
        timed(timings, "rerun: \"How many\" 20 -> 25 cards", PAGE_TARGET_S, lambda: slider.press("ArrowRight"),
              lambda: page.locator(".rec-card").nth(24).wait_for())
        settle(page)


def similar_search(page: Page, timings: Timings) -> None:
    """On Similar songs: a typed query sent with Enter -> its ten neighbour cards."""
    box = page.get_by_label("Artist and title")
    box.fill("love")  # typed, not yet sent: Enter sends it
    timed(timings, "similar songs: query -> 10 cards", PAGE_TARGET_S, lambda: box.press("Enter"),
          lambda: page.locator(".rec-card").nth(9).wait_for())
    settle(page)


def report(runs: dict[str, Timings], *, header: str) -> None:
    """Each step's p50 and max beside its target (one pair of columns per app), then the worst
    page (by p50) of each."""
    print(header)
    names = list(runs)
    print(f"{'step':58}" + "".join(f" {n[:17]:>17}" for n in names) + "   target")
    print(f"{'':58}" + "".join(f" {'p50':>8} {'max':>8}" for _ in names))
    first = runs[names[0]]
    for step, target in first.targets.items():
        cells = []
        for name in names:
            values = runs[name].steps.get(step, [])
            done = [v for v in values if v is not None]
            late = len(values) - len(done)
            p50 = f"{statistics.median(done):.2f} s" if done else "timeout"
            worst = (f"{max(done):.2f} s" if done else "-") + ("!" * min(late, 3))  # "!": repetitions that timed out
            cells.append(f" {p50:>8} {worst:>8}")
        mark = f"< {target:g} s" if target is not None else "-"
        print(f"{step:58}" + "".join(cells) + f"   {mark}")
    for name in names:
        steps = runs[name].steps
        pages = {s: statistics.median([v for v in values if v is not None] or [float("inf")])
                 for s, values in steps.items() if s.startswith("page: ")}
        if pages:
            worst_page, value = max(pages.items(), key=lambda kv: kv[1])
            label = "" if len(names) == 1 else f" [{name}]"
            print(f"worst page{label}: {value:.2f} s ({worst_page.removeprefix('page: ')}, p50; "
                  f"target < {PAGE_TARGET_S:g} s)")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each flow (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 repetitions")
    parser.add_argument("--models", type=Path, default=None,
                        help="a models directory with CURRENT (default: none, so the committed models/demo serves)")
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout (its app.py) to measure in the same run, repetitions alternating")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds any one step may take before it counts "
                        "as timed out (default 30)")
    args = parser.parse_args()
    reps = 2 if args.quick else max(1, args.reps)
    if not Path(CHROMIUM).is_file():
        print(f"skipped: needs Debian's chromium at {CHROMIUM} (`make browser`)")
        return 0
    if sync_playwright is None:
        print("skipped: needs the playwright package (requirements-dev.txt)")
        return 0
    roots = {"this checkout": ROOT, **({f"against {args.against.name}": args.against.resolve()} if args.against else {})}
    before = _load()
    runs = {name: Timings() for name in roots}
    started = time.perf_counter()
    wait_ms = args.wait * 1000
    with ExitStack() as stack:  # unwinds in reverse: browser, apps, fake, then the scratch directory
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="app-latency-")))
        models = args.models.resolve() if args.models else tmp / "models"  # empty: models/demo serves
        models.mkdir(exist_ok=True)
        # The shipped catalogue sample: the demo bundle's items, so Alice's history matches by id.
        fake = stack.enter_context(FakeSpotify(catalogue="auto"))
        urls = {}
        for i, (name, root) in enumerate(roots.items()):
            (tmp / f"data{i}").mkdir()
            urls[name] = stack.enter_context(streamlit_app(fake, data_dir=tmp / f"data{i}", models_dir=models,
                                                           log_path=tmp / f"streamlit{i}.log", root=root))
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        stack.callback(browser.close)
        for name, url in urls.items():
            first_visit(browser, url, runs[name], wait_ms=wait_ms * 3)  # it also waits for the model to load
        for rep in range(reps):
            order = list(urls) if rep % 2 == 0 else list(reversed(urls))  # alternate who goes first
            for name in order:
                demo_run(browser, urls[name], runs[name], wait_ms=wait_ms)
                signed_in_run(browser, urls[name], runs[name], wait_ms=wait_ms)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    source = str(models) if args.models else "models/demo (the committed demo bundle)"
    report(runs, header=f"app latency: streamlit run app.py on {source}, headless Chromium, {reps} repetitions, "
                        f"{time.perf_counter() - started:.0f} s wall; before: {before}; after: {uptime}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
