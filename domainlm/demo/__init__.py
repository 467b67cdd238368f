"""`domainlm demo`: the whole flow on real reviews shipped with the package (see run.py, data/README.md)."""

from domainlm.demo.run import DemoResult, build_demo_base, demo_intro, demo_notes, run_demo, write_demo_data

__all__ = ["run_demo", "build_demo_base", "write_demo_data", "demo_intro", "demo_notes", "DemoResult"]
