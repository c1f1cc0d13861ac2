#!/usr/bin/python3
"""Baseline for the REST benchmark: the loader a user would write without ferry.

  baseline_rest.py BASE_URL DB.sqlite [LIMIT]

Python 3 stdlib only (urllib.request, json, sqlite3). Pages through GET
BASE_URL/orders?limit=LIMIT (default 100) by the cursor in meta.next_cursor, sent back as
`cursor`, until it is null, and flattens each order in data[] the way ferry does (the same
Loader as baseline_flatten.py, so the two baselines cannot drift): nested objects become
`parent__child` columns (customer__address__city), arrays become child tables orders__items
and orders__tags linked by _ferry_parent_id and _ferry_idx, scalars in a `value` column.
Rows go in with executemany every 10,000 orders, all in one transaction.

Prints one line: `pages=N records=N seconds=S` followed by `<table>=<rows>` for each table.
Exits non-zero on an HTTP error or a cursor that repeats (so it cannot loop forever).
"""

import json
import os
import sqlite3
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline_flatten import Loader  # noqa: E402  (beside this script)

BATCH_RECORDS = 10_000


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    base_url, db_path = sys.argv[1].rstrip("/"), sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) == 4 else 100

    start = time.monotonic()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN")
    loader = Loader(db, "orders")
    pages = records = pending = 0
    cursor = None
    seen = set()
    while True:
        params = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        url = f"{base_url}/orders?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=60) as response:
            body = json.load(response)
        pages += 1
        for order in body["data"]:
            loader.add_record(order)
        records += len(body["data"])
        pending += len(body["data"])
        if pending >= BATCH_RECORDS:
            loader.flush()
            pending = 0
        cursor = body["meta"]["next_cursor"]
        if cursor is None or cursor == "":
            break
        if cursor in seen:
            sys.exit(f"baseline_rest.py: the cursor {cursor!r} came back twice")
        seen.add(cursor)
    loader.flush()
    db.execute("COMMIT")
    db.close()
    seconds = time.monotonic() - start
    counts = " ".join(f"{t}={n}" for t, n in loader.counts.items())
    print(f"pages={pages} records={records} seconds={seconds:.3f} {counts}")


if __name__ == "__main__":
    main()
