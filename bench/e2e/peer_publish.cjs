#!/usr/bin/env node
// The like-for-like peer of Strata's publish stage (bench/e2e/run.sh):
// DuckDB (npm @duckdb/node-api) writes the table Strata published — the
// same rows, columns and types — as zstd Parquet. peer_rfm.cjs's COPY
// writes the peer pipeline's own 10-column RFM table; Strata's segments
// table has more than twice as many (CLV, clusters, scores as text), so
// that figure alone does not compare the writers.
//   load     Strata's segments part read into a DuckDB table (not timed:
//            the peer's publish starts from its table in memory, as
//            Strata's does)
//   publish  COPY of that table to Parquet, zstd, in its row order
//   check    rows and the sum of clv read back from the file DuckDB wrote
// Usage: node peer_publish.cjs SEGMENTS.parquet OUTDIR THREADS [CODEC]
// CODEC (default zstd) is DuckDB's COMPRESSION: compare with a Strata run
// whose output.compression is the same.
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const [src, out, threads, codec] = process.argv.slice(2);
  const inst = await DuckDBInstance.create(':memory:', { threads: String(threads || 2) });
  const con = await inst.connect();
  const timed = async (sql) => { const t0 = process.hrtime.bigint(); await con.run(sql); return Number(process.hrtime.bigint() - t0) / 1e9; };
  const r = {};
  r.load_s = await timed(`CREATE TEMP TABLE seg AS SELECT * FROM read_parquet('${src}', hive_partitioning = false)`);
  r.codec = codec || 'zstd';
  r.columns = Number((await con.runAndReadAll(`SELECT count(*)::DOUBLE AS n FROM (DESCRIBE seg)`)).getRowObjects()[0].n);
  r.publish_s = await timed(`COPY seg TO '${out}/segments.parquet' (FORMAT parquet, COMPRESSION ${codec || 'zstd'})`);
  const chk = (await con.runAndReadAll(`SELECT count(*)::DOUBLE AS n, sum(clv) AS clv FROM read_parquet('${out}/segments.parquet')`)).getRowObjects()[0];
  r.rows = Number(chk.n);
  r.check_sum_clv = Number(chk.clv);
  console.log(JSON.stringify(r));
}
main().catch((e) => { console.error(e); process.exit(1); });
