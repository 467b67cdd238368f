"""`domainlm demo`: the whole flow on an embedded, illustrative default (see run.py)."""

from domainlm.demo.run import DemoResult, build_demo_base, run_demo

__all__ = ["run_demo", "build_demo_base", "DemoResult"]
