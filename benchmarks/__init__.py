"""The experiments: each script writes its JSON (with provenance.py's record of the commit,
command, machine and versions), a table and a plot under benchmarks/results/;
readme_tables.py turns the JSON into README's tables. Top layer: may import anything."""
