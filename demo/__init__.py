"""The demo worlds: synthetic B2B sales histories with known generating processes (demo/worlds.py names them:
adoption in demo/process.py and demo/simulator.py, projects in demo/project_process.py and
demo/project_simulator.py), what they share (demo/common.py) and their oracles (demo/oracle.py,
demo/project_oracle.py).

Pure library: settings and a seed in, tables out. No file paths, no MLflow, no pipeline imports.
"""
