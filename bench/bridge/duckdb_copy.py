# bench/bridge's DuckDB side (embedded in the benchmark, run by the venv's python): the issue's
# COPY (SELECT * FROM read_json_auto(...)) TO ... (FORMAT parquet) per dataset, at SET threads = N.
# Argument: JSON {"threads", "temp_dir", "preserve_order", "datasets": [{"name", "glob", "out"}]}. Prints JSON
# {"version", "seconds", "datasets": {name: {"rows", "seconds", "parquet_bytes"}}}.
import json
import os
import sys
import time

import duckdb


def lit(s):
    return "'" + s.replace("'", "''") + "'"


args = json.loads(sys.argv[1])
con = duckdb.connect(":memory:")
con.execute("SET threads = %d" % args["threads"])
con.execute("SET temp_directory = %s" % lit(args["temp_dir"]))
con.execute("SET enable_progress_bar = false")
# The rows' order across files is not kept (opsflow keeps it only within a partition); with
# the default (true) DuckDB 2.0 takes several times longer on the many small NDJSON objects.
con.execute("SET preserve_insertion_order = %s" % ("true" if args["preserve_order"] else "false"))
out = {"version": duckdb.__version__, "datasets": {}}
start = time.perf_counter()
for d in args["datasets"]:
    t = time.perf_counter()
    rows = con.execute(
        "COPY (SELECT * FROM read_json_auto(%s)) TO %s (FORMAT parquet)" % (lit(d["glob"]), lit(d["out"]))
    ).fetchone()[0]
    out["datasets"][d["name"]] = {
        "rows": rows,
        "seconds": time.perf_counter() - t,
        "parquet_bytes": os.path.getsize(d["out"]),
    }
out["seconds"] = time.perf_counter() - start
json.dump(out, sys.stdout)
