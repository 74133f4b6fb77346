"""The machine and library versions, and the result tables: plain text, Markdown, JSON."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import platform
from importlib import metadata
from pathlib import Path

import psutil
from threadpoolctl import threadpool_info

LIBRARIES = [
    "celr",
    "numpy",
    "scipy",
    "scikit-learn",
    "glum",
    "tabmat",
    "skglm",
    "numba",
    "statsmodels",
    "snapml",
    "liblinear-official",
    "psutil",
    "threadpoolctl",
]
COLUMNS = [
    "contender",
    "setting",
    "time min",
    "time med",
    "t/grad",
    "iters",
    "gap",
    "t->1e-4",
    "t->1e-6",
    "t->1e-8",
    "peak MB",
    "notes",
]


# -- environment --------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _celr_fingerprint() -> str:
    """Short hash of celr's source files: which code was timed (celr is being edited)."""
    import celr

    digest = hashlib.sha256()
    for path in sorted(Path(celr.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _library_label(filepath: str) -> str:
    """'numpy.libs/libscipy_openblas64_...so': which package bundled the library."""
    path = Path(filepath)
    return f"{path.parent.name}/{path.name}" if filepath else "?"


def environment(memory_method: str) -> dict:
    """Machine, BLAS, library versions and date, for the report header."""
    blas = [
        {key: info.get(key) for key in ("internal_api", "version", "num_threads", "architecture")}
        | {"library": _library_label(info.get("filepath", ""))}
        for info in threadpool_info()
    ]
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in LIBRARIES},
        "celr_source_sha256": _celr_fingerprint(),
        "threadpools": blas,
        "thread_env": {
            key: os.environ[key]
            for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if key in os.environ
        },
        "memory_method": memory_method,
    }


def environment_lines(env: dict) -> list[str]:
    """The environment as a few human-readable lines."""
    pools = "; ".join(
        f"{p['internal_api']} {p['version']} ({p['library']}, {p['num_threads']} threads"
        + (f", {p['architecture']}" if p.get("architecture") else "")
        + ")"
        for p in env["threadpools"]
    )
    versions = ", ".join(f"{name} {version}" for name, version in env["versions"].items())
    return [
        f"Date: {env['date']}",
        f"CPU: {env['cpu']}; {env['logical_cores']} logical / {env['physical_cores']} "
        f"physical cores ({env['usable_cores']} usable); {env['memory_gb']} GB RAM",
        f"Thread pools: {pools}" + (f"; {env['thread_env']}" if env["thread_env"] else ""),
        f"Python {env['python']}; {versions}; celr source sha256 {env['celr_source_sha256']}",
        f"Peak memory: {env['memory_method']}",
    ]


# -- cells --------------------------------------------------------------------------------
def fmt_time(seconds: float | None) -> str:
    """Seconds with three significant digits ('-' when missing)."""
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.3g} ms" if seconds < 0.1 else f"{seconds:.3g} s"


def fmt_gap(gap: float | None) -> str:
    """A relative gap as 1.2e-08 ('0' when at or below f*)."""
    if gap is None:
        return "-"
    return "0" if gap <= 0 else f"{gap:.1e}"


def _setting_cells(row: dict, t_grad: float) -> list[str]:
    if row["status"] == "skipped":
        return ["-"] * 6 + [row["message"]]
    if row["status"] != "ok":
        label = row["message"] if row["status"] == "timeout" else "error"
        return [label, "-", "-", "-", "-", "-", row["message"] if label == "error" else ""]
    t_min = row["time_min"]
    return [
        fmt_time(t_min),
        fmt_time(row["time_median"]),
        f"{t_min / t_grad:.3g}" if t_grad else "-",
        str(row["n_iter"]),
        fmt_gap(row["gap"]),
        "<1" if row["peak_mb"] < 1 else f"{row['peak_mb']:,.0f}",
        row["notes"],
    ]


def problem_rows(result: dict) -> list[list[str]]:
    """Table rows (cells as strings) of one problem, in COLUMNS order."""
    rows = []
    for entry in result["contenders"]:
        name = entry["name"] + ("" if entry.get("fit_intercept", True) else " (b = 0)")
        if entry["skipped"]:
            rows.append([name, "-"] + ["-"] * 9 + [f"skipped: {entry['skipped']}"])
            continue
        reach = [fmt_time(entry["time_to_gap"][level]) for level in entry["time_to_gap"]]
        for setting in ("default", "tight"):
            cells = _setting_cells(entry["settings"][setting], result["gradient_time"])
            to_gap = reach if setting == "default" else [""] * len(reach)
            rows.append([name, setting, *cells[:5], *to_gap, *cells[5:]])
    return rows


def problem_header(result: dict) -> list[str]:
    """Lines describing a problem: data, gradient unit, f* and how it was obtained."""
    ref = result["reference"]
    reference = f"{ref['status']}, {fmt_time(ref.get('time'))}" + (
        f", {ref['n_iter']} iterations, gradient max-norm {ref['stop_crit']:.1e}"
        if ref["status"] == "ok"
        else f" ({ref['message']})"
    )
    lines = [
        f"{result['name']}: {result['description']}",
        f"one value+gradient (numpy): {fmt_time(result['gradient_time'])}; "
        f"f* = {result['f_star']!r} ({result['f_star_source']})",
        f"reference (celr newton, tol=1e-12): {reference}",
    ]
    lines += [f"reference warning: {text}" for text in ref.get("warnings", [])]
    ref0 = result.get("reference_no_intercept")
    if ref0 is not None:
        state = f"{ref0['status']}, {fmt_time(ref0.get('time'))}"
        lines.append(
            f"(b = 0): contenders without intercept are scored against f with b = 0, "
            f"f* = {result.get('f_star_no_intercept')!r} "
            f"({result.get('f_star_source_no_intercept')}; reference {state})"
        )
    if result["separable"]:
        lines.append("separable data: the infimum is f* = 0, the gap column is f itself")
    lines += [f"WARNING: {text}" for text in result["warnings"]]
    return lines


# -- tables -------------------------------------------------------------------------------
def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A fixed-width text table."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table."""
    escape = [[str(c).replace("|", "\\|") for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in escape]
    return "\n".join(lines)


SUMMARY_COLUMNS = [
    "problem",
    "fastest peer to gap 1e-8",
    "its time",
    "celr time to 1e-8",
    "speed-up (peer / celr)",
    "celr default fit: time, gap",
]


def summary_rows(results: list[dict]) -> list[list[str]]:
    """Per problem: the fastest non-celr contender to reach gap 1e-8, and celr against it.

    celr's time is its default configuration's (the ``celr`` contender), the solver a
    user gets without tuning; the speed-up is the peer's time over celr's.
    """
    rows = []
    for result in results:
        for fit_intercept, celr_name in ((True, "celr"), (False, "celr-no-intercept")):
            group = [
                e for e in result["contenders"] if e.get("fit_intercept", True) == fit_intercept
            ]
            peer_names = {e["name"] for e in group if not e["name"].startswith("celr")}
            if not fit_intercept and not any(
                not e["skipped"] for e in group if e["name"] in peer_names
            ):
                continue  # no peer without intercept ran on this problem
            rows.append(_summary_row(result, group, celr_name, fit_intercept))
    return rows


def _summary_row(result: dict, group: list[dict], celr_name: str, fit_intercept: bool):
    """One summary row: the contenders of one objective (with or without intercept)."""
    times = {
        e["name"]: e["time_to_gap"]["1e-08"]
        for e in group
        if not e["skipped"] and e["time_to_gap"]["1e-08"] is not None
    }
    celr = next((e for e in group if e["name"] == celr_name), None)
    celr_time = times.get(celr_name)
    peers = {name: t for name, t in times.items() if not name.startswith("celr")}
    best = min(peers, key=peers.get) if peers else None
    ratio = f"{peers[best] / celr_time:.2f}x" if best and celr_time else "-"
    default = "-"
    if celr and not celr["skipped"] and celr["settings"]["default"]["status"] == "ok":
        row = celr["settings"]["default"]
        default = f"{fmt_time(row['time_min'])}, {fmt_gap(row['gap'])}"
    return [
        result["name"] + ("" if fit_intercept else " (b = 0)"),
        best or "none reached 1e-8",
        fmt_time(peers.get(best)) if best else "-",
        fmt_time(celr_time) if celr else "not run",
        ratio,
        default,
    ]


def contender_rows(contenders) -> list[list[str]]:
    """Default and tight settings of each contender, for the report's legend."""
    return [[c.name, c.default, c.tight, c.note] for c in contenders]


def markdown_report(run: dict, contenders) -> str:
    """The whole report as Markdown."""
    parts = ["# celr benchmarks", ""]
    parts += [f"- {line}" for line in environment_lines(run["environment"])]
    parts += [f"- Settings: {run['settings_text']}", "", "## Summary", ""]
    parts += [markdown_table(SUMMARY_COLUMNS, summary_rows(run["problems"])), ""]
    for result in run["problems"]:
        header = problem_header(result)
        parts += [f"## {header[0]}", ""] + [f"- {line}" for line in header[1:]] + [""]
        parts += [markdown_table(COLUMNS, problem_rows(result)), ""]
    parts += ["## Contender settings", ""]
    parts += [
        markdown_table(["contender", "default", "tight", "note"], contender_rows(contenders)),
        "",
        "Columns: see benchmarks/README.md.",
        "",
    ]
    return "\n".join(parts)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def jsonable(value):
    """``value`` with non-finite floats as strings ('inf', 'nan'): strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def write_outputs(out_dir: Path, run: dict, contenders) -> None:
    """latest.json and latest.md in ``out_dir``."""
    text = json.dumps(jsonable(run), indent=1, default=str, allow_nan=False)
    write_atomic(out_dir / "latest.json", text + "\n")
    write_atomic(out_dir / "latest.md", markdown_report(run, contenders))
