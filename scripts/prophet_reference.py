"""Reference forecasts from Python prophet, for sitga's parity test and the
forecast benchmark.

Fits prophet (PyPI; it ships its compiled Stan model, so this runs offline)
with the same options sitga's forecasting crate uses: weekly seasonality
only, 80 % intervals, MLE. Reads a daily series as JSON
(`{"start": "YYYY-MM-DD", "kg": [...]}`), writes the forecast and how long
fit + predict took:

    {"prophet_version", "horizon", "points": [{"date","yhat","lower","upper"}],
     "fit_predict_seconds": [...]}

`--make-fixture PATH` writes the deterministic fixture series instead
(90 days: level, trend, weekly pattern, seeded noise).

Run it through scripts/prophet-reference.sh, which sets up the venv.
"""

import argparse
import json
import logging
import time

import numpy as np


def make_fixture(path):
    rng = np.random.default_rng(20261127)
    weekly = [5.0, 6.0, 4.0, 3.0, 8.0, -12.0, -14.0]  # Monday first
    start = np.datetime64("2026-06-01")  # a Monday
    kg = [
        round(max(0.0, 40.0 + 0.15 * i + weekly[i % 7] + rng.normal(0.0, 2.5)), 3)
        for i in range(90)
    ]
    with open(path, "w") as f:
        json.dump({"start": str(start), "kg": kg}, f, indent=1)
        f.write("\n")


def forecast(series_path, out_path, horizon, repeat):
    import pandas as pd
    import prophet
    from prophet import Prophet

    logging.getLogger("cmdstanpy").disabled = True
    with open(series_path) as f:
        series = json.load(f)
    ds = pd.date_range(series["start"], periods=len(series["kg"]), freq="D")
    frame = pd.DataFrame({"ds": ds, "y": series["kg"]})
    timings = []
    result = None
    for _ in range(repeat):
        began = time.perf_counter()
        model = Prophet(
            weekly_seasonality=True,
            yearly_seasonality=False,
            daily_seasonality=False,
            interval_width=0.8,
        )
        model.fit(frame)
        future = model.make_future_dataframe(periods=horizon, include_history=False)
        result = model.predict(future)
        timings.append(time.perf_counter() - began)
    points = [
        {
            "date": row.ds.strftime("%Y-%m-%d"),
            "yhat": float(row.yhat),
            "lower": float(row.yhat_lower),
            "upper": float(row.yhat_upper),
        }
        for row in result.itertuples()
    ]
    with open(out_path, "w") as f:
        json.dump(
            {
                "prophet_version": prophet.__version__,
                "horizon": horizon,
                "points": points,
                "fit_predict_seconds": timings,
            },
            f,
            indent=1,
        )
        f.write("\n")
    print(
        f"prophet {prophet.__version__}: {len(points)} points, "
        f"fit+predict median {sorted(timings)[len(timings) // 2] * 1000:.1f} ms "
        f"over {repeat} run(s) -> {out_path}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--make-fixture", metavar="PATH")
    parser.add_argument("--series", default="crates/forecasting/tests/fixtures/series.json")
    parser.add_argument("--out", default="crates/forecasting/tests/fixtures/prophet_reference.json")
    parser.add_argument("--horizon", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.make_fixture:
        make_fixture(args.make_fixture)
    else:
        forecast(args.series, args.out, args.horizon, max(1, args.repeat))


if __name__ == "__main__":
    main()
