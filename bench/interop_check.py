"""Readers that are not etl's own read etl's parquet: pyarrow (and DuckDB's Python package where installed).

Usage: python3 interop_check.py <file.parquet> <rows expected>
Prints one line per reader; exits 1 if a reader fails or disagrees. Run by bench/run.ts on each transform's
output where pyarrow imports (the test suite checks hyparquet and DuckDB's Node binding).
"""
import sys

import pyarrow.parquet as pq

path, expected = sys.argv[1], int(sys.argv[2])
meta = pq.ParquetFile(path).metadata
table = pq.read_table(path)
codecs = {meta.row_group(g).column(c).compression for g in range(meta.num_row_groups) for c in range(meta.num_columns)}
stats = all(meta.row_group(g).column(c).is_stats_set for g in range(meta.num_row_groups) for c in range(meta.num_columns))
groups = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
ok = table.num_rows == expected and stats
print(f"pyarrow {__import__('pyarrow').__version__}: {table.num_rows} rows, {meta.num_row_groups} row groups (largest {max(groups) if groups else 0}), codec {','.join(sorted(codecs))}, statistics on every chunk: {stats}")
try:
    import duckdb
except ImportError:
    duckdb = None
if duckdb is not None:
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
    print(f"duckdb (python) {duckdb.__version__}: {rows} rows")
    ok = ok and rows == expected
sys.exit(0 if ok else 1)
