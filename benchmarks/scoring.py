"""From the fits of every contender on a problem: f*, gaps, per-setting rows, time to gap.

f* is the lowest objective anyone reached (the celr Newton reference at tol=1e-12, or a
contender that beat it, which is flagged when by more than 1e-12 relative), or 0 for
separable data without a penalty (the infimum, not attained: gaps are then f itself).
"""

from __future__ import annotations

import math
import statistics

GAP_LEVELS = (1e-4, 1e-6, 1e-8)


def _notes(fit: dict, name: str) -> str:
    parts = []
    solver = fit.get("info", {}).get("solver_")
    if solver and solver not in name:
        parts.append(f"solver {solver}")
    if fit.get("info", {}).get("converged") is False:
        parts.append("not converged")
    parts += [
        w.split(":")[0]
        for w in fit.get("warnings", [])
        if not w.startswith(("DeprecationWarning", "FutureWarning"))
    ]
    return "; ".join(parts)


def setting_row(fits: list[dict], setting: str, name: str) -> dict:
    """Aggregate the repeats of one setting: min/median time, worst gap, max memory."""
    mine = [f for f in fits if f["setting"] == setting]
    ok = [f for f in mine if f["status"] == "ok"]
    if not ok:
        first = mine[0] if mine else {"status": "skipped", "message": "not run"}
        return {"status": first["status"], "message": first.get("message", "")}
    times = [f["time"] for f in ok]
    notes = _notes(ok[-1], name)
    if len(ok) < len(mine):
        notes = "; ".join(filter(None, [notes, f"{len(mine) - len(ok)} repeat(s) failed"]))
    return {
        "status": "ok",
        "message": "",
        "times": times,
        "time_min": min(times),
        "time_median": statistics.median(times),
        "n_iter": max(f["n_iter"] for f in ok),
        "f": max(f["f"] for f in ok),
        "gap": max(f["gap"] for f in ok),
        "peak_mb": max(f["peak_mb"] for f in ok),
        "notes": notes,
    }


# The two objectives a problem's contenders minimise: f, and f with the intercept at 0.
OBJECTIVES = {True: ("reference", ""), False: ("reference_no_intercept", "_no_intercept")}


def _f_star(result: dict, fit_intercept: bool = True) -> None:
    """f* = the lowest f reached by anyone (0 for separable data); warn if celr lost.

    Contenders that fit no intercept are scored against their own f*, written to
    ``f_star_no_intercept`` from ``reference_no_intercept``.
    """
    key, suffix = OBJECTIVES[fit_intercept]
    ref = result.get(key)
    if ref is None:
        return
    f_ref = ref.get("f")
    candidates = [
        (fit["f"], entry["name"])
        for entry in result["contenders"]
        if entry.get("fit_intercept", True) == fit_intercept
        for fit in entry.get("fits", [])
        if fit["status"] == "ok"
    ]
    if f_ref is not None:
        candidates.append((f_ref, "reference"))
    source = "f_star_source" + suffix
    if ref.get("separable"):
        result.update({"f_star" + suffix: 0.0, source: "infimum, the data are separable"})
        return
    if not candidates:
        result.update({"f_star" + suffix: None, source: "nobody converged"})
        return
    f_min, who = min(candidates)
    result["f_star" + suffix] = f_min
    result[source] = "celr newton reference" if who == "reference" else f"best: {who}"
    if f_ref is None:
        result["warnings"].append("the reference fit failed; f* is the best contender's f")
    elif f_ref - f_min > 1e-12 * abs(f_ref):
        result["warnings"].append(
            f"{who} beat the celr reference{suffix.replace('_', ' ')} by "
            f"{(f_ref - f_min) / abs(f_ref):.1e} (relative)"
        )


def finalise(result: dict) -> None:
    """Gaps against f*, the per-setting rows and each contender's time to each gap level."""
    for fit_intercept, (key, suffix) in OBJECTIVES.items():
        _f_star(result, fit_intercept)
        if key not in result:
            continue
        f_star, separable = result.get("f_star" + suffix), result[key].get("separable")
        for entry in result["contenders"]:
            if entry.get("fit_intercept", True) != fit_intercept:
                continue
            for fit in [f for f in entry.get("fits", []) if f["status"] == "ok"]:
                if f_star is None:
                    fit["gap"] = math.nan
                elif separable or f_star <= 0:
                    fit["gap"] = fit["f"]
                else:
                    fit["gap"] = (fit["f"] - f_star) / f_star
    for entry in result["contenders"]:
        if entry["skipped"]:
            continue
        fits = entry["fits"]
        entry["settings"] = {s: setting_row(fits, s, entry["name"]) for s in ("default", "tight")}
        entry["time_to_gap"] = {
            f"{level:.0e}": min(
                (f["time"] for f in fits if f["status"] == "ok" and f["gap"] <= level),
                default=None,
            )
            for level in GAP_LEVELS
        }
