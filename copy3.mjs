import duck from '@duckdb/node-api';
const inst = await duck.DuckDBInstance.create(':memory:', { memory_limit: '64MB', threads: '1', preserve_insertion_order: 'true' });
const c = await inst.connect();
const files = process.argv.slice(3).map(f => `'${f}'`).join(',');
const before = process.memoryUsage().rss;
await c.run(`COPY (SELECT * FROM read_parquet([${files}])) TO '/tmp/copy-out.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${process.argv[2]})`);
console.log('rss before', (before/1e6).toFixed(0));
