#!/usr/bin/env node
// The peer pipeline's first half (bench/e2e/run.sh): DuckDB (npm
// @duckdb/node-api) over the same Parquet orders file as Strata.
//   agg      per customer: count, last and first ts, sum and mean amount
//   scores   recency in days and NTILE(5) R/F/M scores
//   publish  the scored table written as zstd Parquet
//   handoff  recency, frequency, monetary written as CSV for pandas
// Usage: node peer_rfm.cjs ORDERS.parquet OUTDIR THREADS
const { DuckDBInstance } = require('@duckdb/node-api');

const AS_OF_END = 1735689600; // 2025-01-01T00:00:00Z: the end of Strata's as-of day 2024-12-31

async function main() {
  const [parquet, out, threads] = process.argv.slice(2);
  const inst = await DuckDBInstance.create(':memory:', { threads: String(threads || 2) });
  const con = await inst.connect();
  const timed = async (sql) => { const t0 = process.hrtime.bigint(); await con.run(sql); return Number(process.hrtime.bigint() - t0) / 1e9; };
  const r = {};
  r.agg_s = await timed(`CREATE TEMP TABLE agg AS
    SELECT customer_id, count(*) AS frequency, max(ts) AS last_ts, min(ts) AS first_ts,
           sum(amount) AS monetary, avg(amount) AS avg_amount
    FROM read_parquet('${parquet}') GROUP BY customer_id`);
  r.scores_s = await timed(`CREATE TEMP TABLE rfm AS
    SELECT *, floor((${AS_OF_END} - 1 - last_ts) / 86400)::INTEGER AS recency_days,
           ntile(5) OVER (ORDER BY last_ts ASC) AS r,
           ntile(5) OVER (ORDER BY frequency ASC, customer_id) AS f,
           ntile(5) OVER (ORDER BY monetary ASC) AS m
    FROM agg`);
  r.publish_s = await timed(`COPY (SELECT * FROM rfm ORDER BY customer_id) TO '${out}/rfm.parquet' (FORMAT parquet, COMPRESSION zstd)`);
  r.handoff_s = await timed(`COPY (SELECT customer_id, recency_days, frequency, monetary FROM rfm ORDER BY customer_id) TO '${out}/features.csv' (HEADER)`);
  const chk = (await con.runAndReadAll('SELECT count(*)::DOUBLE AS customers, sum(monetary) AS monetary FROM rfm')).getRowObjects()[0];
  r.customers = Number(chk.customers);
  r.check_sum_monetary = Number(chk.monetary);
  console.log(JSON.stringify(r));
}
main().catch((e) => { console.error(e); process.exit(1); });
