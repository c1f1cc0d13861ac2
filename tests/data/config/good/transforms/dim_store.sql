create table if not exists dim_store as select distinct store_id, region from ods_orders;
