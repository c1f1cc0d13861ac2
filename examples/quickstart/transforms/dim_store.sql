-- One row per store, from the latest store list.
DROP TABLE IF EXISTS dim_store;
CREATE TABLE dim_store AS
SELECT store_id, name AS store_name, city, region, opened_on
FROM ods_stores;
