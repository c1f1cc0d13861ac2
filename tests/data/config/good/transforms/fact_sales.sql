create table if not exists fact_sales as select * from ods_orders join dim_store using (store_id);
