-- One row per product (ods_products is merged on sku, so it holds the latest of each).
DROP TABLE IF EXISTS dim_product;
CREATE TABLE dim_product AS
SELECT sku, name AS product_name, category, list_price
FROM ods_products;
