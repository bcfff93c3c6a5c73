"""Every label and sentence of the report, in English and in Chinese (`--lang zh`).

Sentences are templates filled with numbers computed from the tables; a missing template in one
language falls back to English rather than failing a report.
"""

from __future__ import annotations

LANGS = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    # titles
    "report_title": {"en": "{brand}: operations report {period}", "zh": "{brand} 定期运营数据报告 {period}"},
    "generated": {"en": "Built {now} from data up to {data_end}", "zh": "生成于 {now}，数据截至 {data_end}"},
    "headline": {"en": "Headline", "zh": "核心指标"},
    "event": {"en": "Event recap", "zh": "大促复盘"},
    "forecast_quality": {"en": "Forecast quality", "zh": "预测准确度"},
    "ads": {"en": "Ads", "zh": "广告投放"},
    "products": {"en": "Products", "zh": "商品"},
    "outlook": {"en": "Outlook", "zh": "下期展望"},
    "notes": {"en": "Notes", "zh": "说明"},
    # chart labels
    "gmv": {"en": "GMV", "zh": "GMV"},
    "units": {"en": "units", "zh": "销量"},
    "this_period": {"en": "this period", "zh": "本期"},
    "previous": {"en": "previous period", "zh": "上期"},
    "last-year": {"en": "last year", "zh": "去年同期"},
    "forecast": {"en": "forecast", "zh": "预测"},
    "actual": {"en": "actual", "zh": "实际"},
    "day_of_period": {"en": "day of the period", "zh": "周期第几天"},
    "wape": {"en": "WAPE", "zh": "WAPE（加权误差）"},
    "coverage": {"en": "p10-p90 coverage", "zh": "p10-p90 区间覆盖率"},
    "promo_days": {"en": "promotion days", "zh": "促销日"},
    "normal_days": {"en": "normal days", "zh": "日常"},
    "spend": {"en": "spend", "zh": "花费"},
    "platform_roi": {"en": "platform-attributed ROI", "zh": "平台归因 ROI"},
    "model_roi": {"en": "incremental ROI (model)", "zh": "增量 ROI（模型）"},
    "incremental_revenue": {"en": "incremental revenue", "zh": "增量 GMV"},
    "current_spend": {"en": "this period's spend", "zh": "本期花费"},
    "lost_gmv": {"en": "GMV lost to stock-outs", "zh": "缺货损失 GMV"},
    "phase_presale": {"en": "pre-sale", "zh": "预售"},
    "phase_peak": {"en": "peak", "zh": "爆发期"},
    "phase_day": {"en": "the day", "zh": "当天"},
    "phase_after": {"en": "dip after", "zh": "返场/回落"},
    "no_chart": {"en": "no chart: {why}", "zh": "无图表：{why}"},
    # headline sentences
    "s_gmv": {
        "en": "GMV was {gmv} on {units} units over {days} days.",
        "zh": "本期 {days} 天 GMV {gmv}，销量 {units} 件。",
    },
    "s_orders": {"en": "Orders: {orders}.", "zh": "订单数：{orders}。"},
    "s_no_orders": {
        "en": "Orders are not in the sales table, so they are not reported.",
        "zh": "销售表中没有订单数，因此不报告订单。",
    },
    "s_against": {
        "en": "Against the {what} ({period}): {change} ({value}).",
        "zh": "对比{what}（{period}）：{change}（{value}）。",
    },
    "s_against_missing": {
        "en": "No data for the {what} ({period}) to compare with.",
        "zh": "{what}（{period}）没有数据可对比。",
    },
    "s_plan_met": {
        "en": "The forecast made before the period expected {forecast} GMV: the plan was met ({change}).",
        "zh": "期初预测 GMV {forecast}：计划达成（{change}）。",
    },
    "s_plan_missed": {
        "en": "The forecast made before the period expected {forecast} GMV: the plan was missed ({change}).",
        "zh": "期初预测 GMV {forecast}：计划未达成（{change}）。",
    },
    # event sentences
    "s_no_event": {
        "en": "No promotion event (618, Double 11, ...) falls in this period.",
        "zh": "本期没有大促活动（618、双11 等）。",
    },
    "s_event_span": {
        "en": "{event} ran {start} to {end} in this period.",
        "zh": "{event} 活动期 {start} 至 {end}。",
    },
    "s_event": {
        "en": "{phase}: {gmv} GMV, {vs_forecast} against the forecast and {vs_last_year} against last year.",
        "zh": "{phase}：GMV {gmv}，较预测 {vs_forecast}，较去年 {vs_last_year}。",
    },
    "s_event_platform": {
        "en": "{platform} carried the largest share of the event: {share} of its GMV.",
        "zh": "{platform} 贡献了最大份额：占活动 GMV 的 {share}。",
    },
    # forecast quality
    "s_wape": {
        "en": "The forecast missed by {wape} of units (WAPE) and {coverage} of days fell inside its "
        "p10-p90 interval (80% was promised).",
        "zh": "预测误差（WAPE）为 {wape}，{coverage} 的天数落在 p10-p90 区间内（承诺 80%）。",
    },
    "s_wape_split": {
        "en": "On promotion days the WAPE was {promo}, on normal days {normal}.",
        "zh": "促销日 WAPE {promo}，日常 {normal}。",
    },
    "s_wape_worst": {
        "en": "The least reliable platform was {platform} (WAPE {wape}).",
        "zh": "误差最大的平台是 {platform}（WAPE {wape}）。",
    },
    "s_in_sample": {
        "en": "Note: the champion was trained on data up to {origin}, which overlaps this period, so these "
        "errors are flattering; pass the forecast file made before the period (--forecast) for an "
        "honest score.",
        "zh": "注意：冠军模型的训练数据截至 {origin}，与本期重叠，误差偏乐观；"
        "请用期初保存的预测文件（--forecast）评估。",
    },
    "s_no_forecast": {
        "en": "No forecast is available ({why}).",
        "zh": "没有可用的预测（{why}）。",
    },
    # ads
    "s_ads": {
        "en": "Ads spent {spend}; the platforms attribute {attributed} GMV to them (ROI {roi}).",
        "zh": "广告花费 {spend}；平台归因 GMV {attributed}（ROI {roi}）。",
    },
    "s_ads_model": {
        "en": "The response model credits the ads with {incremental} of incremental GMV (ROI {roi}); "
        "{channel} returned most per yuan ({channel_roi}).",
        "zh": "响应模型估计广告带来增量 GMV {incremental}（ROI {roi}）；"
        "{channel} 每元回报最高（{channel_roi}）。",
    },
    "s_ads_next": {
        "en": "For {period}, the same budget of {budget} split as recommended is expected to add {uplift} "
        "(p10 {low} to p90 {high}) over the current mix.",
        "zh": "下期（{period}）同等预算 {budget} 按建议分配，"
        "预计较当前结构多带来 {uplift}（p10 {low} 至 p90 {high}）。",
    },
    "s_no_ads": {"en": "No ad spend in this period.", "zh": "本期没有广告花费。"},
    "s_no_budget_model": {
        "en": "No budget model ({why}): only the platforms' own attribution is shown.",
        "zh": "没有预算模型（{why}）：仅展示平台归因。",
    },
    # products
    "s_top": {
        "en": "The best seller was {sku} ({gmv} GMV, {share} of the brand).",
        "zh": "最畅销商品是 {sku}（GMV {gmv}，占品牌 {share}）。",
    },
    "s_mover_up": {
        "en": "The biggest riser against the {what} was {sku} ({change}).",
        "zh": "较{what}增长最多的是 {sku}（{change}）。",
    },
    "s_mover_down": {
        "en": "The biggest faller was {sku} ({change}).",
        "zh": "下滑最多的是 {sku}（{change}）。",
    },
    "s_stockout": {
        "en": "Stock-outs cost an estimated {lost} GMV over {days} SKU-days; {sku} lost the most.",
        "zh": "缺货估计损失 GMV {lost}（{days} 个 SKU·天）；{sku} 损失最多。",
    },
    "s_no_stockout": {"en": "No SKU was out of stock in this period.", "zh": "本期没有缺货。"},
    "s_push": {
        "en": "Push next: {sku} on {platform} (expected {revenue} GMV over {days} days), because {reason}.",
        "zh": "下期主推：{platform} 的 {sku}（预计 {days} 天 GMV {revenue}），原因：{reason}。",
    },
    "s_no_selection": {"en": "No push list ({why}).", "zh": "没有主推清单（{why}）。"},
    # outlook
    "s_outlook": {
        "en": "For {period} the forecast is {units} units (daily p10-p90 summed: {low} to {high}); "
        "{platform} is the largest platform.",
        "zh": "下期（{period}）预测销量 {units} 件（逐日 p10-p90 之和：{low} 至 {high}）；"
        "最大平台为 {platform}。",
    },
    "s_outlook_promos": {
        "en": "It assumes {n} planned promotions on {skus} SKUs (average discount {discount}).",
        "zh": "预测假设 {n} 个已计划的促销，涉及 {skus} 个 SKU（平均折扣 {discount}）。",
    },
    "s_outlook_no_promos": {
        "en": "No promotion is planned for the period: the forecast assumes regular prices.",
        "zh": "下期没有计划促销：预测按日常价格。",
    },
    "up": {"en": "up {pct}", "zh": "增长 {pct}"},
    "down": {"en": "down {pct}", "zh": "下降 {pct}"},
    "n/a": {"en": "n/a", "zh": "无"},
}


EVENT_NAMES: dict[str, dict[str, str]] = {
    "cny_festival": {"en": "CNY goods festival", "zh": "年货节"},
    "cny_slowdown": {"en": "Spring Festival slowdown", "zh": "春节物流停运"},
    "38": {"en": "3.8", "zh": "三八节"},
    "618": {"en": "618", "zh": "618"},
    "99": {"en": "9.9", "zh": "99 大促"},
    "double11": {"en": "Double 11", "zh": "双11"},
    "double12": {"en": "Double 12", "zh": "双12"},
    "brand_day": {"en": "brand day", "zh": "品牌日"},
}


# Table headings in the HTML page (the .xlsx keeps the English column names: formulas refer to them)
HEADINGS_ZH: dict[str, str] = {
    "measure": "指标",
    "this_period": "本期",
    "previous": "上期",
    "last-year": "去年同期",
    "forecast": "预测",
    "gmv": "GMV",
    "units": "销量",
    "phase": "阶段",
    "start": "开始",
    "end": "结束",
    "platform": "平台",
    "forecast_gmv": "预测 GMV",
    "last_year_gmv": "去年 GMV",
    "wape": "WAPE",
    "coverage": "区间覆盖率",
    "rows": "行数",
    "days": "日期类型",
    "channel": "广告渠道",
    "spend": "花费",
    "attributed_revenue": "平台归因 GMV",
    "platform_roi": "平台 ROI",
    "incremental_revenue": "增量 GMV",
    "marginal_roi": "边际 ROI",
    "model_roi": "模型 ROI",
    "share": "占比",
    "expected_revenue": "预计 GMV",
    "p10": "p10",
    "p90": "p90",
    "roi": "ROI",
    "current_expected_revenue": "当前结构预计 GMV",
    "sku_id": "SKU",
    "compared_gmv": "对比期 GMV",
    "change": "变化",
    "days_out": "缺货天数",
    "lost_units": "损失销量",
    "lost_gmv": "损失 GMV",
    "rank": "排名",
    "score": "得分",
    "revenue_p10": "GMV p10",
    "revenue_p90": "GMV p90",
    "expected_units": "预计销量",
    "planned_price": "计划价格",
    "new_sku": "新品",
    "reason_1": "理由 1",
    "reason_2": "理由 2",
    "reason_3": "理由 3",
    "mean": "预测销量",
    "discount": "折扣",
    "price": "价格",
    "mechanic": "玩法",
    # table names
    "headline": "核心指标",
    "event_by_phase_platform": "分阶段分平台",
    "event_by_phase": "分阶段",
    "accuracy_by_platform": "分平台准确度",
    "accuracy_by_day_type": "促销日与日常",
    "channels": "各渠道",
    "next_period_split": "下期预算建议",
    "top_sellers": "畅销商品",
    "movers": "涨跌最大",
    "stockouts": "缺货损失",
    "push_list": "下期主推清单",
    "outlook_by_platform": "下期分平台预测",
    "outlook_promotions": "下期已计划促销",
}


class Words:
    """`words("s_gmv", gmv=...)`: the template in the report's language, filled."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = lang if lang in LANGS else "en"

    def __call__(self, key: str, **values: object) -> str:
        entry = TEXT[key]
        return entry.get(self.lang, entry["en"]).format(**values)

    def heading(self, name: str) -> str:
        """A table's or column's heading on the page: Chinese where known, else the name in words."""
        if self.lang == "zh" and name in HEADINGS_ZH:
            return HEADINGS_ZH[name]
        return name.replace("_", " ")

    def event(self, name: str) -> str:
        """A calendar event's name as planners say it (a user's own event keeps its own name)."""
        names = EVENT_NAMES.get(name)
        return names.get(self.lang, names["en"]) if names else name

    def change(self, new: float, old: float) -> str:
        """`up 12.3%` / `down 4.0%`, or n/a when there is nothing to compare with."""
        if old is None or new is None or not old or old != old or new != new:
            return self("n/a")
        ratio = new / old - 1.0
        return self("up" if ratio >= 0 else "down", pct=f"{abs(ratio):.1%}")


def money(value: float) -> str:
    return "n/a" if value is None or value != value else f"{value:,.0f}"


def ratio(value: float) -> str:
    return "n/a" if value is None or value != value else f"{value:.2f}"


def pct(value: float) -> str:
    return "n/a" if value is None or value != value else f"{value:.1%}"
