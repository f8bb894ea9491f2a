"""The review sample (/review-sample) at a million calls: any percent, first and deep pages.

Reuses the database benchmarks/concurrent_clients.py loaded with --rows (or loads it), then
times review/queues.review_sample in-process on PostgreSQL (the SQL the route runs), three
runs each, and prints the best and the worst with the sample's size.

    python benchmarks/review_sample.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time

from metrics_latency import calls_database, load
from service_harness import fresh_database, loaded_database


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    name = calls_database(args.rows)
    url = loaded_database(name, args.rows)
    if url is None:
        url = fresh_database(name)
        load(url, args.rows)
    from qa_service.review.queues import review_sample
    from qa_service.storage.store import Store

    store = Store(url, migrate=True)
    print(f"{args.rows:,} evaluations on PostgreSQL; times in ms (best / worst of 3)")
    print(f"  {'question':48} {'sample':>8} {'best':>7} {'worst':>7}")
    for project in (None, "p3"):
        for percent in (1, 5, 50, 100):
            for page in (1, 200):
                times, total = [], 0
                for _ in range(3):
                    t0 = time.perf_counter()
                    with store.session() as s:
                        out = review_sample(
                            s, percent, "", project=project, page=page, page_size=50
                        )
                    times.append((time.perf_counter() - t0) * 1000)
                    total = out.total
                label = f"project={project or 'all'} percent={percent} page={page}"
                print(f"  {label:48} {total:8,d} {min(times):7.0f} {max(times):7.0f}")


if __name__ == "__main__":
    main()
