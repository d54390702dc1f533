"""The demo world: a synthetic B2B sales history with a known generating process (demo/process.py), its
simulator (demo/simulator.py) and its oracle (demo/oracle.py).

Pure library: settings and a seed in, tables out. No file paths, no MLflow, no pipeline imports.
"""
