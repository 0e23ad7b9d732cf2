#!/usr/bin/env node
// The peer pipeline's first half again (bench/e2e/run.sh), with Polars
// (npm nodejs-polars) in place of DuckDB: a lazy scan of the same Parquet
// orders file, the same aggregation and scores as peer_rfm.cjs, the same
// outputs.
//   agg      per customer: count, last and first ts, sum and mean amount
//   scores   recency in days and NTILE(5) R/F/M scores: the rows ranked by
//            last_ts, by frequency then customer_id, and by monetary, and
//            cut as DuckDB's ntile cuts them (n/5 rows a tile, the first
//            n%5 tiles one more)
//   publish  the scored table, ordered by customer_id, written as zstd
//            Parquet (the columns and types of DuckDB's copy)
//   handoff  recency, frequency, monetary written as CSV for pandas
// Usage: node peer_rfm_polars.cjs ORDERS.parquet OUTDIR THREADS
// Polars sizes its thread pool from POLARS_MAX_THREADS when it is loaded:
// set here from THREADS before the require.
const [parquet, out, threads] = process.argv.slice(2);
process.env.POLARS_MAX_THREADS = String(threads || 2);
const pl = require('nodejs-polars');

const AS_OF_END = 1735689600; // 2025-01-01T00:00:00Z: the end of Strata's as-of day 2024-12-31

const secs = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

// ntile(x) is DuckDB's ntile(5) OVER (ORDER BY x) for the rows in frame
// order on ties (rank 'ordinal'): with n rows, q = n / 5 and r = n % 5,
// the row at position p (from 0) is in tile p / (q+1) + 1 while p < r(q+1),
// else r + (p - r(q+1)) / q + 1. Integer quotients by floor of the double
// quotient, exact for any row count a machine holds.
function ntile(x) {
  const n = pl.len().cast(pl.Int64);
  const q = n.div(5).floor().cast(pl.Int64);
  const r = n.modulo(5);
  const big = r.mul(q.plus(1));
  const p = pl.col(x).rank('ordinal').cast(pl.Int64).minus(1);
  return pl.when(p.lt(big)).then(p.div(q.plus(1)).floor().plus(1))
    .otherwise(r.plus(p.minus(big).div(q).floor()).plus(1)).cast(pl.Int64);
}

function main() {
  const r = {};
  let t0 = process.hrtime.bigint();
  const agg = pl.scanParquet(parquet)
    .groupBy('customer_id')
    .agg(
      pl.len().cast(pl.Int64).alias('frequency'),
      pl.col('ts').max().alias('last_ts'),
      pl.col('ts').min().alias('first_ts'),
      pl.col('amount').sum().alias('monetary'),
      pl.col('amount').mean().alias('avg_amount'),
    )
    .collectSync();
  r.agg_s = secs(t0);
  t0 = process.hrtime.bigint();
  // Ordered by customer_id first: the frequency ranks then break ties by
  // customer_id, as peer_rfm.cjs's ORDER BY frequency, customer_id does,
  // and the table is in the order it is written.
  const rfm = agg.lazy()
    .sort('customer_id')
    .withColumns(
      pl.lit(AS_OF_END - 1).minus(pl.col('last_ts')).div(86400).floor().cast(pl.Int32).alias('recency_days'),
      ntile('last_ts').alias('r'),
      ntile('frequency').alias('f'),
      ntile('monetary').alias('m'),
    )
    .collectSync();
  r.scores_s = secs(t0);
  t0 = process.hrtime.bigint();
  rfm.writeParquet(`${out}/rfm_polars.parquet`, { compression: 'zstd' });
  r.publish_s = secs(t0);
  t0 = process.hrtime.bigint();
  rfm.select('customer_id', 'recency_days', 'frequency', 'monetary').writeCSV(`${out}/features_polars.csv`);
  r.handoff_s = secs(t0);
  r.customers = rfm.height;
  r.check_sum_monetary = Number(rfm.getColumn('monetary').sum());
  r.polars = pl.version ? String(pl.version) : undefined;
  console.log(JSON.stringify(r));
}

try {
  main();
} catch (e) {
  console.error(e);
  process.exit(1);
}
