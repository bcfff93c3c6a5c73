"""The brand report: every section's numbers against the source tables, the HTML, xlsx both ways,
the periodic run, GET /report, and (when Chromium is installed) the rendered page and PDF.

The models are small real ones (LightGBM only, one backtest window, a few budget trials), fitted
once for the module: the report must work with the real bundles' interfaces, not with fakes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from daiyun.features.calendar import event_windows
from daiyun.serving.report.build import build_report
from daiyun.serving.report.model import Champions
from daiyun.serving.report.periods import Period, last_complete

BRAND = "glowlab"
START, END = "2025-10-15", "2025-11-14"  # holds Double 11 2025: pre-sale, peak, the day, the dip
PERIOD = Period(pd.Timestamp(START), pd.Timestamp(END))


@pytest.fixture(scope="module")
def champions(dataset) -> Champions:
    from daiyun.training.trainers.backtest import run_backtest
    from daiyun.training.trainers.budget import fit_brand
    from daiyun.training.trainers.forecast import default_config, fit_bundle
    from daiyun.training.trainers.selection import SelectionConfig
    from daiyun.training.trainers.selection import fit_bundle as fit_selection

    result = run_backtest(dataset, BRAND, default_config(windows=1, horizon=14, members=("lgbm",)))
    forecast = fit_bundle(dataset, BRAND, result)
    budget, _ = fit_brand(dataset, BRAND, n_trials=5, n_bootstrap=10)
    selection = fit_selection(dataset, BRAND, None, 30, forecast, None, SelectionConfig())  # no correction
    return Champions(forecast, budget, selection)


@pytest.fixture(scope="module")
def empty_registry(tmp_path_factory: pytest.TempPathFactory):
    """One private MLflow store without champions for the CLI tests (creating a store takes ~15 s)."""
    root = tmp_path_factory.mktemp("report_registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.setenv("DAIYUN_ARTIFACT_ROOT", (root / "artifacts").as_uri())
        yield


@pytest.fixture(scope="module")
def report(dataset, champions):
    return build_report(dataset, BRAND, START, END, champions=champions)


def until(dataset, last: pd.Timestamp):
    mine = dataset.for_brand(BRAND)
    return replace(
        mine, sales=mine.sales.loc[mine.sales["date"] <= last], ads=mine.ads.loc[mine.ads["date"] <= last]
    )


def in_period(frame: pd.DataFrame, first, last) -> pd.DataFrame:
    return frame.loc[
        (frame["brand"] == BRAND) & frame["date"].between(pd.Timestamp(first), pd.Timestamp(last))
    ]


def test_headline_numbers_are_the_sales_table_sums(report, dataset) -> None:
    numbers = report.section("headline").numbers
    rows = in_period(dataset.sales, START, END)
    assert numbers["gmv"] == pytest.approx(rows["revenue"].sum())
    assert numbers["units"] == pytest.approx(rows["units"].sum())
    before = in_period(dataset.sales, "2025-09-14", "2025-10-14")  # the 31 days before
    assert numbers["previous_gmv"] == pytest.approx(before["revenue"].sum())
    assert "last-year_gmv" not in numbers  # the sample starts 2025-01-01: no last year to compare with
    sentences = " ".join(report.section("headline").sentences)
    assert f"{rows['revenue'].sum():,.0f}" in sentences and "No data for the last year" in sentences


def test_event_recap_splits_double11_by_phase_and_platform(report, dataset) -> None:
    section = report.section("event")
    table = section.tables["event_by_phase_platform"]
    assert list(dict.fromkeys(table["phase"])) == ["presale", "peak", "day", "after"]
    windows = event_windows(START, END)
    day = windows.loc[(windows["name"] == "double11") & (windows["phase"] == "day"), "start"].iloc[0]
    assert (table.loc[table["phase"] == "day", ["start", "end"]] == day).all().all()
    for (phase, platform), row in table.set_index(["phase", "platform"]).iterrows():
        sold = in_period(dataset.sales, row["start"], row["end"])
        assert row["gmv"] == pytest.approx(sold.loc[sold["platform"] == platform, "revenue"].sum()), phase
    assert section.numbers["event_gmv"] == pytest.approx(table["gmv"].sum())


def test_forecast_quality_is_the_wape_of_the_forecast_made_before_the_period(report, dataset, champions):
    forecast = champions.forecast.with_history(until(dataset, PERIOD.start - pd.Timedelta(days=1)))
    rows = forecast.forecast(START, END, quantiles=(0.1, 0.5, 0.9))
    actual = in_period(dataset.sales, START, END)[["platform", "sku_id", "date", "units", "on_promo"]]
    scored = rows.merge(actual, on=["platform", "sku_id", "date"])
    wape = (scored["units"] - scored["mean"]).abs().sum() / scored["units"].sum()
    section = report.section("forecast_quality")
    assert section.numbers["wape"] == pytest.approx(wape)
    inside = scored["units"].between(scored["p10"], scored["p90"]).mean()
    assert section.numbers["coverage"] == pytest.approx(inside)
    promo = scored.loc[scored["on_promo"] == 1]
    by_type = section.tables["accuracy_by_day_type"].set_index("days")
    assert by_type.loc["promotion", "wape"] == pytest.approx(
        (promo["units"] - promo["mean"]).abs().sum() / promo["units"].sum()
    )
    assert set(section.tables["accuracy_by_platform"]["platform"]) == set(scored["platform"])
    # the module's champion was fitted on the whole history, so the report must say it flatters
    assert any("flattering" in sentence for sentence in section.sentences)


def test_ads_spend_and_attributed_roi_are_the_ads_table(report, dataset, champions) -> None:
    section = report.section("ads")
    ads = in_period(dataset.ads, START, END)
    assert section.numbers["spend"] == pytest.approx(ads["spend"].sum())
    assert section.numbers["platform_roi"] == pytest.approx(
        ads["attributed_revenue"].sum() / ads["spend"].sum()
    )
    channels = section.tables["channels"].set_index("channel")
    per_channel = ads.groupby("channel")["spend"].sum()
    assert channels["spend"].to_dict() == pytest.approx(per_channel.to_dict())
    # the model's incremental revenue is below what the platforms claim, and positive
    assert 0 < section.numbers["incremental_revenue"] < section.numbers["attributed_revenue"]
    curves = section.tables["response_curves"]
    assert set(curves["channel"]) == set(champions.budget.channels())
    split = section.tables["next_period_split"]
    assert split["spend"].sum() == pytest.approx(ads["spend"].sum(), rel=1e-3)  # same budget, next period


def test_products_top_seller_stockouts_and_push_list(report, dataset, champions) -> None:
    section = report.section("products")
    rows = in_period(dataset.sales, START, END)
    by_sku = rows.groupby("sku_id")["revenue"].sum()
    assert section.tables["top_sellers"].iloc[0]["sku_id"] == by_sku.idxmax()
    assert section.numbers["top_seller_gmv"] == pytest.approx(by_sku.max())
    out = rows.loc[rows["in_stock"] == 0]
    stockouts = section.tables["stockouts"]
    assert stockouts["days_out"].sum() == len(out)
    assert (stockouts["lost_gmv"] >= 0).all()
    # scored from the forecast as it stood on the period's last day (full history up to it)
    as_of_end = champions.forecast.with_history(until(dataset, PERIOD.end))
    expected = champions.selection.with_history(until(dataset, PERIOD.end)).score(
        END, PERIOD.days, scope="brand", forecast=as_of_end
    )
    push = section.tables["push_list"]
    assert push.iloc[0]["sku_id"] == expected.iloc[0]["sku_id"]
    assert push.iloc[0]["platform"] == expected.iloc[0]["platform"]
    assert any(expected.iloc[0]["sku_id"] in sentence for sentence in section.sentences)


def test_outlook_is_the_next_period_forecast_by_platform(report, dataset, champions) -> None:
    section = report.section("outlook")
    following = PERIOD.following()
    fresh = champions.forecast.with_history(until(dataset, PERIOD.end))
    rows = fresh.forecast(following.start, following.end, level="platform")
    by_platform = section.tables["outlook_by_platform"].set_index("platform")
    assert by_platform["mean"].to_dict() == pytest.approx(rows.groupby("platform")["mean"].sum().to_dict())
    assert (by_platform["p10"] <= by_platform["mean"]).all() and (
        by_platform["mean"] <= by_platform["p90"]
    ).all()
    promotions = section.tables["outlook_promotions"]
    assert (pd.to_datetime(promotions["end"]) >= following.start).all()


def test_html_is_one_self_contained_page_with_a_chart_per_section(report) -> None:
    from daiyun.serving.report.render import render_html

    page = render_html(report)
    charts = re.findall(r'<img class="chart" data-section="(\w+)"[^>]*src="data:image/png;base64,', page)
    assert charts == ["headline", "event", "forecast_quality", "ads", "products", "outlook"]
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing to fetch: opens offline
    assert "<script" not in page


def test_chinese_labels_with_a_cjk_font_and_english_with_a_warning_without(dataset, monkeypatch) -> None:
    from daiyun.serving.report import fonts

    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    fallback = build_report(dataset, BRAND, START, END, lang="zh", draw=False)
    assert fallback.lang == "en" and "operations report" in fallback.title
    assert any("fonts-wqy-microhei" in note for note in fallback.notes)
    monkeypatch.undo()
    if fonts.cjk_font() is None:
        pytest.skip("no CJK font here (apt-get install fonts-wqy-microhei)")
    chinese = build_report(dataset, BRAND, START, END, lang="zh")
    assert chinese.lang == "zh" and "定期运营数据报告" in chinese.title
    assert chinese.section("headline").title == "核心指标" and chinese.section("headline").chart
    from daiyun.serving.report.render import render_html

    page = render_html(chinese)
    assert (
        '<html lang="zh-CN">' in page and "<caption>畅销商品</caption>" in page and ">缺货天数</th>" in page
    )


def test_periods_last_complete_week_and_month() -> None:
    week, name = last_complete("week", pd.Timestamp("2026-10-15"))  # a Thursday
    assert (week.start, week.end, name) == (
        pd.Timestamp("2026-10-05"),
        pd.Timestamp("2026-10-11"),
        "2026-W41",
    )
    month, name = last_complete("month", pd.Timestamp("2026-10-15"))
    assert (month.start, month.end, name) == (
        pd.Timestamp("2026-09-01"),
        pd.Timestamp("2026-09-30"),
        "2026-09",
    )
    month, name = last_complete("month", pd.Timestamp("2026-09-30"))  # a month's last day completes it
    assert name == "2026-09"


# ----------------------------------------------------------------------------------- spreadsheets


def test_an_excel_plan_with_excel_dates_and_several_brands_is_read_for_one(tmp_path: Path) -> None:
    from daiyun.training.cli.output import read_plan

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["brand", "platform", "sku_id", "start", "end", "discount", "mechanic"])
    sheet.append(
        [BRAND, "tmall", "GLO0001", dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 11), 0.2, "coupon"]
    )
    sheet.append([BRAND, "douyin", "00123", dt.date(2026, 10, 20), "2026-10-31", 0.1, None])
    sheet.append(
        ["crunchtime", "tmall", "CRU0001", dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 11), 0.3, None]
    )
    sheet.append(
        ["northpeak", "jd", "NOR0001", dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 11), 0.3, None]
    )
    for row in sheet.iter_rows(min_row=2, min_col=4, max_col=5):
        for cell in row:
            cell.number_format = "yyyy/m/d"  # how Excel shows dates to a Chinese planner
    book.save(tmp_path / "plan.xlsx")

    plan, note = read_plan(tmp_path / "plan.xlsx", BRAND)
    assert list(plan["sku_id"]) == ["GLO0001", "00123"]  # an id stays text, leading zeros kept
    assert list(plan["start"]) == [pd.Timestamp("2026-11-01"), pd.Timestamp("2026-10-20")]
    assert list(plan["end"]) == [pd.Timestamp("2026-11-11"), pd.Timestamp("2026-10-31")]
    assert plan["discount"].tolist() == pytest.approx([0.2, 0.1])
    assert "ignored 2 rows of 2 other brand(s)" in note


def test_a_data_directory_may_hold_its_promotions_as_xlsx(sample_dir, dataset, tmp_path: Path) -> None:
    import shutil

    from daiyun.features.load import load
    from daiyun.serving.report.xlsx import write_workbook

    for table in ("sales", "products", "ads"):
        shutil.copy(sample_dir / f"{table}.parquet", tmp_path / f"{table}.parquet")
    write_workbook({"plan": pd.read_parquet(sample_dir / "promotions.parquet")}, tmp_path / "promotions.xlsx")
    from_excel = load(tmp_path, brands=[BRAND]).promotions
    expected = dataset.for_brand(BRAND).promotions
    pd.testing.assert_frame_equal(from_excel, expected, check_dtype=False)


def test_a_forecast_written_as_xlsx_opens_with_real_dates_and_numbers(tmp_path: Path) -> None:
    from daiyun.training.cli.output import write_answer

    rows = pd.DataFrame(
        {
            "brand": BRAND,
            "platform": "tmall",
            "sku_id": ["00123", "GLO0002"],
            "date": pd.to_datetime(["2026-10-16", "2026-10-17"]),
            "mean": [1.5, 2.25],
            "p10": [0.0, 1.0],
            "p90": [3.0, 4.5],
            "cold_start": [False, True],
        }
    )
    path = write_answer(rows, tmp_path / "forecast.xlsx")
    back = pd.read_excel(path, dtype={"sku_id": str})
    assert back["date"].dtype.kind == "M" and list(back["date"]) == list(rows["date"])
    assert back["mean"].tolist() == [1.5, 2.25] and back["sku_id"].tolist() == ["00123", "GLO0002"]
    cells = openpyxl.load_workbook(path).active
    assert cells["D2"].is_date and cells["D2"].number_format == "yyyy-mm-dd"
    assert isinstance(cells["E2"].value, float)
    assert not list(tmp_path.glob(".*"))  # the temp file was renamed, nothing left behind


# --------------------------------------------------------------------------------------- the CLI


def test_cli_report_xlsx_with_a_multi_brand_plan_and_no_champions(
    sample_dir, dataset, empty_registry, tmp_path
) -> None:
    from typer.testing import CliRunner

    from daiyun.training.cli.app import app

    plan = pd.DataFrame(
        {
            "brand": [BRAND, "crunchtime"],
            "platform": "tmall",
            "sku_id": ["GLO0001", "CRU0001"],
            "start": "2025-11-20",
            "end": "2025-11-25",
            "discount": 0.2,
        }
    )
    plan.to_csv(tmp_path / "plan.csv", index=False)
    # the forecast the planner saved before the period: last month's daily units, +-50% as its interval
    sales = pd.read_parquet(sample_dir / "sales.parquet")
    sales["date"] = pd.to_datetime(sales["date"])
    naive = in_period(sales, "2025-09-14", "2025-10-14")[["brand", "platform", "sku_id", "date", "units"]]
    naive = naive.assign(date=naive["date"] + pd.Timedelta(days=31), mean=naive["units"]).drop(
        columns="units"
    )
    naive = naive.assign(p10=0.5 * naive["mean"], p50=naive["mean"], p90=1.5 * naive["mean"])
    naive.to_csv(tmp_path / "forecast.csv", index=False)
    out = tmp_path / "report.xlsx"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--data",
            str(sample_dir),
            "--brand",
            BRAND,
            "--start",
            START,
            "--end",
            END,
            "--promotions",
            str(tmp_path / "plan.csv"),
            "--forecast",
            str(tmp_path / "forecast.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ignored 1 rows" in result.output and "no forecast champion" in result.output.replace("\n", " ")
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets)[0] == "summary" and {"headline", "daily_gmv", "channels", "top_sellers"} <= set(
        sheets
    )
    assert sheets["daily_gmv"]["date"].dtype.kind == "M"
    gmv = sheets["headline"].set_index("measure").loc["gmv", "this_period"]
    assert gmv == pytest.approx(in_period(sales, START, END)["revenue"].sum())
    # actuals as loaded: a day without a row is a zero-sales day (DATA_CONTRACT.md), and it counts
    actual = in_period(dataset.sales, START, END)[["platform", "sku_id", "date", "units"]]
    scored = naive.merge(actual, on=["platform", "sku_id", "date"])
    by_platform = sheets["accuracy_by_platform"].set_index("platform")
    for platform, rows in scored.groupby("platform"):
        wape = (rows["units"] - rows["mean"]).abs().sum() / rows["units"].sum()
        assert by_platform.loc[platform, "wape"] == pytest.approx(wape)
    assert not sheets["summary"]["text"].str.contains("flattering").any()  # a real forecast, honestly scored

    bad = CliRunner().invoke(
        app,
        [
            "report",
            "--data",
            str(sample_dir),
            "--brand",
            BRAND,
            "--start",
            START,
            "--end",
            END,
            "--out",
            str(tmp_path / "report.docx"),
        ],
    )
    assert bad.exit_code == 1 and ".html, .pdf or .xlsx" in bad.output


def test_cli_every_week_writes_each_brand_once_per_period(sample_dir, empty_registry, tmp_path) -> None:
    from typer.testing import CliRunner

    from daiyun.training.cli.app import app

    command = ["report", "--data", str(sample_dir), "--every", "week", "--out-dir", str(tmp_path / "reports")]
    for _ in range(2):  # a second cron run of the same week rewrites the same files, adds none
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert written == [f"{b}_2026-W41.html" for b in ("crunchtime", "glowlab", "northpeak")]
    assert "2026-10-05 .. 2026-10-11" in (tmp_path / "reports" / "glowlab_2026-W41.html").read_text()


# ------------------------------------------------------------------------------------ GET /report


def test_get_report_follows_the_key_and_brand_rules(dataset, champions, sample_dir, monkeypatch) -> None:
    from starlette.testclient import TestClient
    from test_serving_fakes import Harness

    from daiyun.serving import service
    from daiyun.serving.champions import Champion, ChampionSet

    served = ChampionSet(
        [
            Champion(family, BRAND, f"daiyun-{family}-{BRAND}", "1", "run", {}, getattr(champions, family))
            for family in ("forecast", "budget", "selection")
        ],
        [],
        source="registry",
    )
    monkeypatch.setattr(service, "load_from_registry", lambda: served)
    monkeypatch.setattr(service, "precompute_champions", lambda champions: None)
    monkeypatch.setattr(service, "self_check", lambda champions: None)
    monkeypatch.setenv("DAIYUN_API_KEYS", "key-glow:glowlab;key-crunch:crunchtime")
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "1")
    monkeypatch.delenv("DAIYUN_API_KEYS_FILE", raising=False)
    query = f"/report?brand={BRAND}&start={START}&end={END}"
    # one ASGI app per process: BentoML registers its Prometheus metrics once (test_serving_fakes.Harness)
    with TestClient(app=Harness().app, raise_server_exceptions=False) as client:
        monkeypatch.delenv("DAIYUN_REPORT_DATA", raising=False)
        missing = client.get(query, headers={"X-API-Key": "key-glow"})
        assert missing.status_code == 503 and "DAIYUN_REPORT_DATA" in missing.text
        monkeypatch.setenv("DAIYUN_REPORT_DATA", str(sample_dir))
        page = client.get(query, headers={"Authorization": "Bearer key-glow"})
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        gmv = in_period(dataset.sales, START, END)["revenue"].sum()
        assert f"GMV was {gmv:,.0f}" in page.text and page.text.count('class="chart"') == 6
        assert client.get(query).status_code == 401
        other = client.get(query, headers={"X-API-Key": "key-crunch"})
        assert other.status_code == 403 and "GLO" not in other.text
        bad = client.get(
            f"/report?brand={BRAND}&start=2025-13-01&end={END}", headers={"X-API-Key": "key-glow"}
        )
        assert bad.status_code == 400 and "start" in bad.text


# ------------------------------------------------------------------------------- headless Chromium


def _chromium() -> str:
    from daiyun.serving.report.chromium import find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    return binary


MEASURE = """<script>
window.addEventListener('load', () => {
  const boxes = [...document.querySelectorAll('img.chart')].map(img => {
    const r = img.getBoundingClientRect();
    return {section: img.dataset.section, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
            decoded: img.complete && img.naturalWidth > 0};
  });
  document.body.setAttribute('data-boxes', JSON.stringify(boxes));
  document.body.setAttribute('data-height', document.documentElement.scrollHeight);
});
</script>"""


def test_every_chart_renders_in_headless_chromium_and_the_pdf_prints(request, tmp_path: Path) -> None:
    _chromium()  # before the models are fitted: a machine without Chromium skips at once
    report = request.getfixturevalue("report")
    import html as html_text

    from matplotlib.image import imread

    from daiyun.serving.report.chromium import dump_dom, screenshot
    from daiyun.serving.report.outputs import write_report
    from daiyun.serving.report.render import render_html

    page = tmp_path / "measured.html"
    page.write_text(render_html(report).replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = dump_dom(page, width=1000, height=1200)
    boxes = json.loads(html_text.unescape(re.search(r'data-boxes="([^"]*)"', dom).group(1)))
    height = int(re.search(r'data-height="(\d+)"', dom).group(1))
    assert [b["section"] for b in boxes] == [
        "headline",
        "event",
        "forecast_quality",
        "ads",
        "products",
        "outlook",
    ]
    assert all(b["decoded"] and b["w"] > 300 and b["h"] > 100 for b in boxes), boxes
    shot = imread(screenshot(page, tmp_path / "page.png", width=1000, height=height))
    for box in boxes:
        region = shot[
            int(box["y"]) + 2 : int(box["y"] + box["h"]) - 2,
            int(box["x"]) + 2 : int(box["x"] + box["w"]) - 2,
            :3,
        ]
        assert region.size and region.std() > 0.05, f"the {box['section']} chart is blank"
        assert (region.min(axis=2) < 0.6).mean() > 0.01, f"the {box['section']} chart has no ink"
    pdf = write_report(report, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000
    assert not np.isnan(shot).any()
