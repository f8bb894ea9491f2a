"""The web app's speed with the metrics benchmark's data (default 1M evaluations) in PostgreSQL.

Loads the data as benchmarks/metrics_latency.py does, adds one real sample call (audio on disk),
starts `qa-service serve` in its own process and measures, as a signed-in browser would:
  - server time of the review queue and dashboard pages: the HTML and each JSON request the page
    makes on first load, p50/p95 over N requests (goal: p95 <= 300 ms);
  - in Debian's Chromium (Playwright): time from opening the call page until its audio is playing
    (goal <= 1 s), whether the audio came by range requests (206), and the compressed bytes each
    page transfers on a cold first load, audio excluded (goal <= 1 MB).

    python benchmarks/web_pages.py [--rows 1000000] [--requests 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import httpx
import psycopg
from metrics_latency import load
from service_harness import ADMIN, ROOT, fresh_database, sign_in, start_api, stop

CHROMIUM = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
# What each page asks the server for on first load (its HTML, then its scripts' API calls).
PAGES = {
    "queue": ["/queue", "/kpis?group_by=project", "/flagged?page=1&page_size=50"],
    "dashboard": ["/dashboard", "/kpis?group_by=project", "/kpis/errors", "/projects/p3/inflight"],
}


def add_sample_call(url: str) -> int:
    """One real recording with its transcript and evaluation: the call page's audio."""
    import json

    from qa_service.app.evaluations import record_evaluation
    from qa_service.domain.metadata import read_metadata
    from qa_service.domain.results import Utterance
    from qa_service.rules.rubric import load_rubric
    from qa_service.rules.scoring import Scorer, evaluate
    from qa_service.storage.store import Store

    store = Store(url, migrate=True)
    wav = ROOT / "samples" / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
    ref = json.loads(wav.with_suffix(".ref.json").read_text(encoding="utf-8"))
    utts = [Utterance(t["role"], t["start"], t["end"], t["text"], 0.9) for t in ref["turns"]]
    rec = store.recordings.save_transcript(
        "e" * 64, str(wav), read_metadata(wav), ref["duration"], 2, "stereo", "reference", utts
    )
    rubric = load_rubric(ROOT / "rubrics" / "telecom-data-upgrade.yaml")
    return record_evaluation(
        store, rec.id, evaluate(str(wav), utts, ref["duration"], Scorer(rubric))
    ).id


def server_times(base: str, secret: str, requests: int) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        sign_in(client, secret)  # the session cookie, as the browser has
        print(f"{'page':10} {'request':48} {'p50 ms':>8} {'p95 ms':>8}")
        for page, routes in PAGES.items():
            totals = [0.0] * requests
            for route in routes:
                client.get(route).raise_for_status()
                times = []
                for i in range(requests):
                    t0 = time.perf_counter()
                    client.get(route).raise_for_status()
                    times.append((time.perf_counter() - t0) * 1000)
                    totals[i] += times[-1]
                times.sort()
                print(
                    f"{page:10} {route:48} {statistics.median(times):8.1f} "
                    f"{times[int(0.95 * (requests - 1))]:8.1f}"
                )
            totals.sort()
            print(
                f"{page:10} {'all of the above, one after another':48} "
                f"{statistics.median(totals):8.1f} {totals[int(0.95 * (requests - 1))]:8.1f}"
            )


def browser_figures(base: str, secret: str, evaluation_id: int, runs: int = 5) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for page_path in ("/queue", "/dashboard", f"/calls/{evaluation_id}"):
            context = browser.new_context(viewport={"width": 1366, "height": 768})  # cold cache
            context.request.post(base + "/login", form={"api_key": secret}, max_redirects=0)
            page = context.new_page()
            sizes = []
            page.on(
                "requestfinished",
                # runs while this page is open, so binding this iteration's list is the same
                lambda r, sizes=sizes: sizes.append(
                    (
                        r.url,
                        r.resource_type,
                        r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"],
                    )
                ),
            )
            page.goto(base + page_path)
            page.wait_for_selector("body[data-loaded='1']", state="attached", timeout=60_000)
            page.wait_for_load_state("networkidle")
            total = sum(s for url, kind, s in sizes if kind != "media" and "/audio" not in url)
            print(
                f"first load of {page_path:12} {total / 1024:8.0f} KiB transferred "
                f"({len(sizes)} requests, compressed, audio excluded)"
            )
            context.close()
        starts, ranged = [], []
        for _ in range(runs):
            context = browser.new_context()
            context.request.post(base + "/login", form={"api_key": secret}, max_redirects=0)
            page = context.new_page()
            statuses = []
            page.on(
                "response",
                lambda r, statuses=statuses: (
                    statuses.append(r.status) if "/audio" in r.url else None
                ),
            )
            # press play as soon as the page can: time from opening the page to the audio playing
            page.add_init_script("""
                document.addEventListener('canplay', e => { e.target.play(); }, true);
                document.addEventListener(
                    'playing', e => { window.__playing = performance.now(); }, true);""")
            page.goto(f"{base}/calls/{evaluation_id}")
            page.wait_for_function("() => window.__playing !== undefined", timeout=30_000)
            starts.append(page.evaluate("() => window.__playing"))
            ranged.append(206 in statuses)
            context.close()
        browser.close()
    starts.sort()
    print(
        f"call page: audio playing {statistics.median(starts):.0f} ms after opening "
        f"(median of {runs}, max {starts[-1]:.0f} ms); range requests answered 206: {all(ranged)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--port", type=int, default=8767)
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="measure the database an earlier run loaded (loading 1M rows takes long)",
    )
    args = ap.parse_args()
    if args.reuse:
        url = ADMIN.rsplit("/", 1)[0] + "/qa_bench_web"
    else:
        url = fresh_database("qa_bench_web")
        print(f"loading {args.rows:,} evaluations ...", flush=True)
        copied, built = load(url, args.rows)
        print(f"loaded in {copied:.0f} s, rollups in {built:.0f} s", flush=True)
    evaluation_id = add_sample_call(url)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        count = conn.execute("SELECT count(*) FROM evaluation").fetchone()[0]
        print(f"evaluations in the database: {count:,}")
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    _, secret = create_key(Store(url), "reviewer", "bench")
    env = dict(os.environ, QA_DATABASE_URL=url)
    env.pop("QA_REDIS_URL", None)
    server, base = start_api(env, args.port)
    try:
        server_times(base, secret, args.requests)
        browser_figures(base, secret, evaluation_id)
    finally:
        stop(server)


if __name__ == "__main__":
    main()
