#!/usr/bin/python3
"""Deterministic data generators for ferry's benchmarks (Python 3 stdlib only).

  gen_data.py csv   OUT --rows N [--repeat R] [--seed S]
  gen_data.py jsonl OUT --rows N [--seed S]

csv: header `id,name,amount,updated_at,payload`, then N*R rows (~100 bytes each). Rows are
made in chunks of 100,000; each chunk's content comes from its own seeded generator and is
written R times with fresh, sequential ids, so `--rows 2000000 --repeat 10` is the 1x file's
content ten times over with ids 1..20,000,000. About 5% of names and 10% of payloads hold a
comma and are quoted, some payloads hold an escaped quote ("") and some names are not ASCII.

jsonl: N orders, one JSON object per line (~450 bytes each):
  {id, created_at, status, customer: {id, name, email, address: {street, city, zip,
   country}}, items: [3-5 x {sku, qty, price, tags: [2-3 strings]}]}
and OUT.counts, a JSON object with the row count each flattened table must have:
  {"orders": N, "orders__items": ..., "orders__items__tags": ...}

The same arguments always give byte-identical files. A file is written to a temporary name
beside OUT and renamed into place only when complete, so an interrupted run never leaves a
truncated file that a later run would take for a cached one.
"""

import argparse
import datetime
import json
import os
import random
import sys

CHUNK = 100_000
EPOCH_2024 = int(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
YEAR_SECONDS = 366 * 24 * 3600

FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas",
         "Karla", "Lukas", "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Tina",
         "Uwe", "Vera", "Willem", "Xenia", "Yusuf", "Zoe", "José", "Søren", "Zoë", "Łukasz"]
LAST = ["Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter",
        "Klein", "Wolf", "Neumann", "Braun", "Zimmermann", "Krüger", "Hartmann", "Lange",
        "Garcia", "Smith", "Jones", "Brown", "Taylor", "Martin", "Dubois", "Rossi", "Novak",
        "Kowalski", "Jensen", "Nielsen", "Müller", "O'Brien"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]
CITIES = [("Berlin", "DE"), ("Hamburg", "DE"), ("Munich", "DE"), ("Cologne", "DE"),
          ("Vienna", "AT"), ("Zurich", "CH"), ("Paris", "FR"), ("Lyon", "FR"),
          ("Amsterdam", "NL"), ("Copenhagen", "DK"), ("Warsaw", "PL"), ("Prague", "CZ"),
          ("Madrid", "ES"), ("Milan", "IT"), ("London", "GB"), ("Dublin", "IE")]
STREETS = ["Hauptstraße", "Bahnhofstraße", "Gartenweg", "Rue de la Paix", "Main Street",
           "Kirchplatz", "Schulstraße", "Via Roma", "Calle Mayor", "High Street"]
STATUSES = ["new", "paid", "paid", "paid", "shipped", "shipped", "delivered", "cancelled"]
TAGS = ["sale", "new", "gift", "eco", "bulk", "fragile", "promo", "top", "rare", "import",
        "local", "bio", "premium", "basic", "bundle", "vegan"]


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def csv_quote(text):
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class CsvPools:
    """Value pools drawn once from the seed; rows pick from them (fast, still varied)."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.names = []
        for i in range(4096):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            if i % 20 == 0:
                self.names.append(csv_quote(f"{last}, {first}"))
            else:
                self.names.append(f"{first} {last}")
        self.amounts = [f"{rng.randrange(1, 10_000_000) / 100:.2f}" for _ in range(65536)]
        self.stamps = [iso(EPOCH_2024 + rng.randrange(YEAR_SECONDS)) for _ in range(65536)]
        self.payloads = []
        for i in range(8192):
            words = []
            while sum(len(w) + 1 for w in words) < rng.randrange(36, 56):
                words.append(rng.choice(WORDS))
            text = " ".join(words)
            if i % 10 == 0:
                text = text.replace(" ", ", ", 1)
            if i % 40 == 0:
                text = f'{text} "quoted"'
            self.payloads.append(csv_quote(text))


def csv_chunk_rests(pools, seed, chunk, count):
    """Everything of `count` rows but the id: ',name,amount,updated_at,payload\\n'."""
    rng = random.Random(seed * 1_000_003 + chunk)
    names = rng.choices(pools.names, k=count)
    amounts = rng.choices(pools.amounts, k=count)
    stamps = rng.choices(pools.stamps, k=count)
    payloads = rng.choices(pools.payloads, k=count)
    return [f",{n},{a},{s},{p}\n" for n, a, s, p in zip(names, amounts, stamps, payloads)]


def write_csv(out, rows, repeat, seed):
    pools = CsvPools(seed)
    out.write("id,name,amount,updated_at,payload\n")
    next_id = 1
    for chunk, start in enumerate(range(0, rows, CHUNK)):
        rests = csv_chunk_rests(pools, seed, chunk, min(CHUNK, rows - start))
        for _ in range(repeat):
            out.write("".join([f"{i}{r}" for i, r in zip(range(next_id, next_id + len(rests)),
                                                          rests)]))
            next_id += len(rests)
    return {"t": rows * repeat}


def write_jsonl(out, rows, seed):
    rng = random.Random(seed)
    rand, randrange, choice = rng.random, rng.randrange, rng.choice
    customers = []
    for cid in range(1, 50_001):
        first, last = choice(FIRST), choice(LAST)
        city, country = choice(CITIES)
        customers.append({
            "id": cid,
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{cid}@example.com",
            "address": {"street": f"{choice(STREETS)} {randrange(1, 200)}", "city": city,
                        "zip": f"{randrange(1000, 99999):05d}", "country": country},
        })
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    items_total = tags_total = 0
    lines = []
    for oid in range(1, rows + 1):
        items = []
        for _ in range(randrange(3, 6)):
            tags = rng.sample(TAGS, randrange(2, 4))
            tags_total += len(tags)
            items.append({"sku": f"S{randrange(100000, 999999)}", "qty": randrange(1, 10),
                          "price": round(rand() * 200 + 1, 2), "tags": tags})
        items_total += len(items)
        lines.append(dumps({"id": oid, "created_at": iso(EPOCH_2024 + randrange(YEAR_SECONDS)),
                            "status": choice(STATUSES), "customer": choice(customers),
                            "items": items}))
        if len(lines) == 10_000:
            out.write("\n".join(lines) + "\n")
            lines = []
    if lines:
        out.write("\n".join(lines) + "\n")
    return {"orders": rows, "orders__items": items_total, "orders__items__tags": tags_total}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["csv", "jsonl"])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1, help="csv only: write each chunk R times")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be >= 1")

    tmp = f"{args.out}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n", buffering=8 << 20) as out:
            if args.kind == "csv":
                counts = write_csv(out, args.rows, args.repeat, args.seed)
            else:
                counts = write_jsonl(out, args.rows, args.seed)
        if args.kind == "jsonl":
            with open(args.out + ".counts", "w") as f:
                json.dump(counts, f)
        os.replace(tmp, args.out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
