#!/usr/bin/env bash
# Runs the quickstart end to end: apply the project files to the config table, run every
# job (then the transforms), and show what landed in the warehouse.
# Usage: examples/quickstart/run.sh [path/to/ferry]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ferry="${1:-ferry}"
cd "$here"
"$ferry" apply
"$ferry" run --all
echo
echo "Rows per table in $here/warehouse.db:"
sql=""
for t in ods_stores ods_products ods_sales ods_orders ods_orders__items ods_orders__items__tags \
         ods_store_orders ods_store_orders__lines ods_catalog \
         dim_store dim_product fact_sales; do
  sql="${sql:+$sql UNION ALL }SELECT '$t' AS table_name, COUNT(*) AS row_count FROM \"$t\""
done
"$ferry" query "$sql"
echo
echo "Revenue by store and channel (fact_sales joined to dim_store):"
"$ferry" query "SELECT f.channel, COALESCE(d.store_name, '(online)') AS store,
                       COUNT(*) AS lines, ROUND(SUM(f.revenue), 2) AS revenue
                FROM fact_sales f LEFT JOIN dim_store d ON d.store_id = f.store_id
                GROUP BY 1, 2 ORDER BY 1, 2"
