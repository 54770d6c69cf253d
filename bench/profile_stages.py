"""Per-statement profile of a function: the median time of each top-level statement of its
body over a few calls (the body is re-compiled with a clock read after every statement).

Used by ``bench/bench_matte.py`` to write where a 1080p frame's time goes in Chroma Key and
Refine Matte.  Nested blocks (an ``if`` with its body) count as one statement.
"""
import ast
import inspect
import statistics
import textwrap
import time


def profile(fn, *args, runs: int = 5, clock=time.perf_counter, **kwargs) -> list[tuple[str, float]]:
    """``[(statement source, median ms)]`` for ``fn(*args, **kwargs)``, in body order;
    ``clock``: ``time.perf_counter`` (wall time) or ``time.process_time`` (CPU time of all
    threads, steadier on a shared machine)."""
    source = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(source)
    func = tree.body[0]
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]                                   # the docstring
    lines = [ast.get_source_segment(source, stmt).splitlines()[0] for stmt in body]
    timed = []
    for k, stmt in enumerate(body):
        timed.append(stmt)
        timed.append(ast.parse(f"__clock.append(({k}, __now()))").body[0])
    func.body = timed
    func.decorator_list = []
    ast.fix_missing_locations(tree)
    clock_list: list = []
    namespace = dict(fn.__globals__, __clock=clock_list, __now=clock)
    exec(compile(tree, inspect.getsourcefile(fn), "exec"), namespace)
    patched = namespace[fn.__name__]
    spent: dict[int, list[float]] = {k: [] for k in range(len(body))}
    patched(*args, **kwargs)                              # warm-up
    for _ in range(runs):
        clock_list.clear()
        previous = clock()
        patched(*args, **kwargs)
        for k, now in clock_list:
            spent[k].append((now - previous) * 1000)
            previous = now
    return [(lines[k], statistics.median(v) if v else 0.0) for k, v in spent.items()]
