#!/usr/bin/env node
// peer_publish.cjs with Polars (npm nodejs-polars) as the writer: the
// like-for-like peer of Strata's publish stage writes the table Strata
// published — the same rows, columns and types — as Parquet.
//   load     Strata's segments part read into a DataFrame (not timed: the
//            peer's publish starts from its table in memory, as Strata's
//            does)
//   publish  the DataFrame written as Parquet with CODEC, in its row order
//   check    rows and the sum of clv read back from the file Polars wrote
// Usage: node peer_publish_polars.cjs SEGMENTS.parquet OUTDIR THREADS [CODEC]
// CODEC (default zstd): compare with a Strata run whose
// output.compression is the same.
const [src, out, threads, codec] = process.argv.slice(2);
process.env.POLARS_MAX_THREADS = String(threads || 2);
const pl = require('nodejs-polars');

const secs = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

function main() {
  const r = {};
  let t0 = process.hrtime.bigint();
  const seg = pl.readParquet(src);
  r.load_s = secs(t0);
  r.codec = codec || 'zstd';
  r.columns = seg.width;
  const dst = `${out}/segments_polars.parquet`;
  t0 = process.hrtime.bigint();
  seg.writeParquet(dst, { compression: r.codec });
  r.publish_s = secs(t0);
  const back = pl.readParquet(dst);
  r.rows = back.height;
  r.check_sum_clv = Number(back.getColumn('clv').sum());
  console.log(JSON.stringify(r));
}

try {
  main();
} catch (e) {
  console.error(e);
  process.exit(1);
}
