"""The pandas peer of the transform scenarios: the seed's approach, read_excel then to_parquet.

Usage: python3 pandas_peer.py monthly <workbook> <out.parquet>   (melted to one row per area and month)
       python3 pandas_peer.py tabular <workbook> <out.parquet>
Run by bench/run.ts only where pandas, pyarrow and openpyxl (and xlrd for .xls) import.
"""
import sys

import pandas as pd

mode, source, destination = sys.argv[1:4]
if mode == "monthly":
    sheet = pd.read_excel(source, sheet_name="Figures for 2022", header=3)
    code, name = sheet.columns[0], sheet.columns[1]
    months = list(sheet.columns[2:14])
    sheet = sheet[sheet[months].notna().any(axis=1)]
    tidy = sheet.melt(id_vars=[code, name], value_vars=months, var_name="period", value_name="deaths")
    tidy.to_parquet(destination, compression="zstd", index=False)
    print(len(tidy))
else:
    table = pd.read_excel(source)
    table.to_parquet(destination, compression="zstd", index=False)
    print(len(table))
