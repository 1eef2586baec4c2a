#!/usr/bin/python3
"""Golden cases for the experiment statistics, computed by scipy and statsmodels (Debian's
python3-scipy and python3-statsmodels: `apt-get install -y python3-scipy python3-statsmodels`).

Run from this folder: `/usr/bin/python3 generate.py > cases.json`. The seeds are fixed, so the file is
reproducible; goldenCases.test.ts checks every figure to 1e-6 relative.

A value scipy cannot compute (nan: an empty or single-unit arm, no spread) is written as null; the
TypeScript side must then say why instead of showing a number.
"""
import json
import math

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.multitest import multipletests

ALPHA = 0.05
rng = np.random.default_rng(20261129)


def num(x):
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def welch_from_stats(m1, v1, n1, m2, v2, n2):
    """Welch's test of arm 2 − arm 1 from means, sample variances and sizes (scipy's ttest_ind_from_stats)."""
    with np.errstate(all="ignore"):
        r = stats.ttest_ind_from_stats(m2, math.sqrt(v2), n2, m1, math.sqrt(v1), n1, equal_var=False)
        se2 = v1 / n1 + v2 / n2
        df = se2 ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1)) if se2 > 0 else float("nan")
        q = stats.t.ppf(1 - ALPHA / 2, df) if not math.isnan(df) else float("nan")
        d = m2 - m1
        half = q * math.sqrt(se2)
    return {"pValue": num(r.pvalue), "t": num(r.statistic), "df": num(df), "ci": [num(d - half), num(d + half)], "difference": num(d)}


def welch_values(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = {"control": a.tolist(), "treatment": b.tolist()}
    if len(a) < 2 or len(b) < 2:
        out["expected"] = None
        return out
    with np.errstate(all="ignore"):
        r = stats.ttest_ind(b, a, equal_var=False)
    res = welch_from_stats(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b))
    res["pValue"], res["t"] = num(r.pvalue), num(r.statistic)
    out["expected"] = res if res["pValue"] is not None and a.var(ddof=1) + b.var(ddof=1) > 0 else None
    return out


def welch_counts(n1, k1, n2, k2):
    """A 0/1 metric from counts: mean k/n, sample variance k(n − k)/(n(n − 1))."""
    v = lambda n, k: k * (n - k) / (n * (n - 1)) if n > 1 else float("nan")
    out = {"control": {"units": n1, "conversions": k1}, "treatment": {"units": n2, "conversions": k2}}
    if n1 < 2 or n2 < 2 or v(n1, k1) + v(n2, k2) == 0:
        out["expected"] = None
        return out
    out["expected"] = welch_from_stats(k1 / n1, v(n1, k1), n1, k2 / n2, v(n2, k2), n2)
    return out


welch = []
# Ordinary samples of every size from 2 to 60, with and without an effect, and different spreads.
for i in range(40):
    n1, n2 = int(rng.integers(2, 61)), int(rng.integers(2, 61))
    a = rng.normal(10, rng.uniform(0.5, 5), n1).round(3)
    b = rng.normal(10 + rng.choice([0, 0.5, 2]), rng.uniform(0.5, 5), n2).round(3)
    welch.append({"name": f"normal samples {n1} vs {n2} (#{i})", **welch_values(a, b)})
# Skewed (revenue-like) samples: mostly zeros.
for i in range(8):
    a = np.where(rng.uniform(size=200) < 0.1, rng.exponential(40, 200), 0).round(2)
    b = np.where(rng.uniform(size=220) < 0.12, rng.exponential(40, 220), 0).round(2)
    welch.append({"name": f"revenue-like, mostly zeros (#{i})", **welch_values(a, b)})
# Means of 1e8: raw power sums lose every digit here.
welch.append({"name": "means of 1e8 (issue #13)", **welch_values([1e8, 1e8 + 1], [1e8 + 1, 1e8 + 3])})
for i in range(5):
    a = 1e8 + rng.integers(0, 10, 30)
    b = 1e8 + rng.integers(0, 12, 25)
    welch.append({"name": f"means of 1e8, small spread (#{i})", **welch_values(a, b)})
welch.append({"name": "means of 1e12, spread 0.5", **welch_values(1e12 + np.arange(20) * 0.5, 1e12 + 1 + np.arange(20) * 0.5)})
# Degenerate arms: scipy gives nan (or a meaningless inf): the app must say why.
welch.append({"name": "empty control", **welch_values([], [1, 2, 3])})
welch.append({"name": "single-unit control", **welch_values([4], [1, 2, 3])})
welch.append({"name": "single unit in each arm", **welch_values([4], [5])})
welch.append({"name": "constant arms, equal", **welch_values([3, 3, 3], [3, 3, 3, 3])})
welch.append({"name": "constant arms, different", **welch_values([3, 3, 3], [5, 5, 5, 5])})
welch.append({"name": "one constant arm", **welch_values([3, 3, 3], [1, 5, 9, 4])})
# Large effects: p far below 1e-15 (but above the double range: 1e-320 would read as 0).
for i, shift in enumerate([0.6, 0.8, 1.0]):
    a = rng.normal(0, 1, 400).round(4)
    b = rng.normal(shift, 1, 400).round(4)
    welch.append({"name": f"huge effect, shift {shift} sd", **welch_values(a, b)})

proportions = []
proportions.append({"name": "df ≥ 1e6 (issue #13)", **welch_counts(500_500, 50_050, 500_500, 50_750)})
proportions.append({"name": "all zero in both arms", **welch_counts(1000, 0, 1200, 0)})
proportions.append({"name": "all one in both arms", **welch_counts(1000, 1000, 1200, 1200)})
proportions.append({"name": "all zero vs some", **welch_counts(17, 0, 23, 7)})
proportions.append({"name": "all zero vs all one", **welch_counts(17, 0, 17, 17)})
proportions.append({"name": "all one vs some", **welch_counts(50, 50, 60, 55)})
proportions.append({"name": "single unit", **welch_counts(1, 1, 30, 3)})
proportions.append({"name": "empty arm", **welch_counts(0, 0, 30, 3)})
proportions.append({"name": "p below 1e-15 at scale", **welch_counts(2_000_000, 200_000, 2_000_000, 212_000)})
proportions.append({"name": "p below 1e-100", **welch_counts(5_000_000, 500_000, 5_000_000, 525_000)})
for i in range(14):
    n1, n2 = int(10 ** rng.uniform(1.5, 7)), int(10 ** rng.uniform(1.5, 7))
    p = rng.uniform(0.005, 0.6)
    k1, k2 = int(rng.binomial(n1, p)), int(rng.binomial(n2, p * rng.choice([1, 1.02, 1.1])))
    proportions.append({"name": f"conversions {k1}/{n1} vs {k2}/{n2}", **welch_counts(n1, k1, n2, k2)})

srm = []
for counts, weights in [([40, 0], [0.5, 0.5]), ([0, 40], [0.5, 0.5]), ([50, 50], [0.5, 0.5]), ([5000, 5200], [0.5, 0.5]),
                        ([5000, 5400], [0.5, 0.5]), ([100, 300], [0.25, 0.75]), ([1000, 1000, 1100], [1 / 3, 1 / 3, 1 / 3]),
                        ([1, 0], [0.5, 0.5]), ([1_000_000, 1_010_000], [0.5, 0.5]), ([1_000_000, 1_000_000, 0], [0.4, 0.4, 0.2]),
                        ([20, 10, 10, 10], [0.25, 0.25, 0.25, 0.25]), ([99_000, 1_000], [0.99, 0.01]), ([3, 7], [0.5, 0.5]),
                        ([2_000_000, 0], [0.5, 0.5]), ([12, 9, 3], [0.5, 0.25, 0.25])]:
    total = sum(counts)
    expected = [total * w / sum(weights) for w in weights]
    r = stats.chisquare(counts, expected)
    srm.append({"name": f"{counts} at {[round(w, 3) for w in weights]}", "counts": counts, "weights": weights,
                "expected": {"chiSquare": num(r.statistic), "pValue": num(r.pvalue), "df": len(counts) - 1}})

multiple = []
for i in range(10):
    m = int(rng.integers(2, 9))
    p = np.concatenate([rng.uniform(0, 0.05, m // 2), rng.uniform(0, 1, m - m // 2)]).round(6)
    if i == 0:
        p = np.array([0.01, 0.01, 0.04, 0.5])  # ties
    multiple.append({"name": f"{m} p-values (#{i})", "pValues": p.tolist(),
                     "holm": multipletests(p, method="holm")[1].tolist(), "benjaminiHochberg": multipletests(p, method="fdr_bh")[1].tolist()})

sign = []
for wins_a, wins_b in [(0, 30), (30, 0), (10, 10), (15, 25), (1, 0), (0, 1), (48, 52), (400, 460), (5000, 5150), (3, 17), (7, 3),
                       (100, 160), (1000, 1300), (0, 60), (2, 3)]:
    n = wins_a + wins_b
    sign.append({"name": f"{wins_a} vs {wins_b}", "winsA": wins_a, "winsB": wins_b, "pValue": num(stats.binomtest(min(wins_a, wins_b), n, 0.5).pvalue)})

distributions = {
    "tTwoSided": [{"t": t, "df": df, "p": num(2 * stats.t.sf(abs(t), df))} for t, df in
                  [(1.0, 1), (3.0, 1), (2.0, 2), (2.5, 3.7), (40.0, 3), (0.1, 5), (1.959963984540054, 1e12), (2.3249630070917533, 1000959.933173684),
                   (10.0, 1e6), (50.0, 1e7), (8.0, 30.5), (0.0, 10)]],
    "tQuantile": [{"p": p, "df": df, "q": num(stats.t.ppf(p, df))} for p, df in
                  [(0.975, 1), (0.975, 2), (0.975, 3.3), (0.975, 29.5), (0.975, 1e6), (0.995, 12), (0.9, 1e9), (0.999, 4.2)]],
    "chiSquareUpper": [{"x": x, "df": df, "p": num(stats.chi2.sf(x, df))} for x, df in
                       [(3.841458820694124, 1), (20, 2), (40, 1), (1500, 1), (5.5, 3), (0.2, 4), (100, 7)]],
    "normalTwoSided": [{"z": z, "p": num(2 * stats.norm.sf(abs(z)))} for z in [0.0, 1.0, 1.959963984540054, 5.0, 9.0, 20.0]],
}

print(json.dumps({
    "generatedBy": f"generate.py with scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, numpy {np.__version__}",
    "alpha": ALPHA,
    "welch": welch,
    "proportions": proportions,
    "srm": srm,
    "multiple": multiple,
    "signTest": sign,
    "distributions": distributions,
}, indent=1))
