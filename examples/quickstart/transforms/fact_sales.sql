-- Every sale line: store sales from the daily files and online order items, one grain.
DROP TABLE IF EXISTS fact_sales;
CREATE TABLE fact_sales AS
SELECT 'store' AS channel,
       s.store_id,
       CAST(s.sale_id AS TEXT) AS sale_ref,
       s.sold_at,
       s.sku,
       s.qty,
       s.unit_price,
       COALESCE(s.discount, 0) AS discount,
       ROUND(s.qty * s.unit_price * (1 - COALESCE(s.discount, 0)), 2) AS revenue
FROM ods_sales s
UNION ALL
SELECT 'online',
       NULL,
       CAST(o.id AS TEXT),
       o.updated_at,
       i.sku,
       i.qty,
       i.price,
       0,
       ROUND(i.qty * i.price, 2)
FROM ods_orders o
JOIN ods_orders__items i ON i._ferry_parent_id = o._ferry_id;
