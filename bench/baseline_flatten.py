#!/usr/bin/python3
"""Baseline for the nested-JSON benchmark: the loader a user would write without ferry.

  baseline_flatten.py INPUT.jsonl DB.sqlite [ROOT_TABLE]

Python 3 stdlib only. json.loads per line; nested objects become columns named
`parent__child`; arrays become child tables `<table>__<field>` whose rows carry
`_ferry_parent_id` (the parent row's `_ferry_id`) and `_ferry_idx` (the position in the
array); an array of scalars becomes a child table with one `value` column. Every row has a
`_ferry_id`; child rows also carry `_ferry_root_id` (the top-level record's `_ferry_id`),
so the tables have ferry's columns (all but its `_ferry_load_id` bookkeeping). Tables are created, and widened with ALTER TABLE ADD COLUMN, as new fields
appear; rows go in with executemany in batches of 10,000 lines, all in one transaction.
Prints one line: `<table>=<rows>` for each table.
"""

import json
import sqlite3
import sys

BATCH_LINES = 10_000


class Loader:
    def __init__(self, db, root):
        self.db = db
        self.root = root
        self.next_id = 0
        self.rows = {}      # table -> list of row dicts of the current batch
        self.columns = {}   # table -> list of columns in the database, in order
        self.counts = {}    # table -> rows written

    def add_record(self, record):
        self._emit(self.root, record, None, None, None)

    def _emit(self, table, obj, parent_id, root_id, idx):
        self.next_id += 1
        row_id = self.next_id
        row = {"_ferry_id": row_id}
        if parent_id is not None:
            row["_ferry_parent_id"] = parent_id
            row["_ferry_root_id"] = root_id
            row["_ferry_idx"] = idx
        else:
            root_id = row_id
        if isinstance(obj, dict):
            self._flatten(table, obj, "", row, row_id, root_id)
        else:
            row["value"] = obj
        self.rows.setdefault(table, []).append(row)

    def _flatten(self, table, obj, prefix, row, row_id, root_id):
        for key, value in obj.items():
            name = prefix + key
            if isinstance(value, dict):
                self._flatten(table, value, name + "__", row, row_id, root_id)
            elif isinstance(value, list):
                child = table + "__" + name
                for i, element in enumerate(value):
                    self._emit(child, element, row_id, root_id, i)
            else:
                row[name] = value

    def flush(self):
        for table, rows in self.rows.items():
            if not rows:
                continue
            columns = self.columns.get(table)
            if columns is None:
                columns = self.columns[table] = []
                self.db.execute(f'CREATE TABLE "{table}" ("_ferry_id" INTEGER)')
                columns.append("_ferry_id")
                self.counts[table] = 0
            known = set(columns)
            for row in rows:
                for name in row:
                    if name not in known:
                        self.db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}"')
                        columns.append(name)
                        known.add(name)
            sql = 'INSERT INTO "{}" ({}) VALUES ({})'.format(
                table, ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns)))
            self.db.executemany(sql, [tuple(row.get(c) for c in columns) for row in rows])
            self.counts[table] += len(rows)
            rows.clear()


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    path, db_path = sys.argv[1], sys.argv[2]
    root = sys.argv[3] if len(sys.argv) == 4 else "orders"
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN")
    loader = Loader(db, root)
    with open(path, "rb") as f:
        pending = 0
        for line in f:
            if not line.strip():
                continue
            loader.add_record(json.loads(line))
            pending += 1
            if pending == BATCH_LINES:
                loader.flush()
                pending = 0
    loader.flush()
    db.execute("COMMIT")
    db.close()
    print(" ".join(f"{t}={n}" for t, n in loader.counts.items()))


if __name__ == "__main__":
    main()
