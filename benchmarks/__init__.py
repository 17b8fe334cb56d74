"""Benchmarks: logitkit and its peers side by side, one command per benchmark.

Run ``python -m benchmarks.solver`` (add ``--smoke`` for a few-second version). Each
benchmark prints a table and writes its own marked section of ``benchmarks/RESULTS.md``;
``benchmarks._common`` holds what they share (timing, machine description, results file).
"""
