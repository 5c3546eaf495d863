#!/usr/bin/env bash
# Validate the monitoring kit in deploy/: Prometheus config, alert rules and
# their unit tests, the Grafana dashboard, and deploy/grafana/metrics.txt.
#
# Usage (from anywhere, typically the repo root):  bash deploy/check.sh
# Needs: promtool (Debian/Ubuntu: apt-get install prometheus), python3 + PyYAML
# (Debian: python3-yaml). Override the promtool binary with PROMTOOL=/path/to/promtool.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # repo root

PROMTOOL="${PROMTOOL:-promtool}"
if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
  echo "check.sh: promtool not found (install it: apt-get install prometheus)" >&2
  exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

step "promtool version"
"$PROMTOOL" --version 2>&1 | head -n 1

# rule_files in prometheus.yml are resolved relative to prometheus.yml itself.
step "promtool check config deploy/prometheus/prometheus.yml"
"$PROMTOOL" check config deploy/prometheus/prometheus.yml

step "promtool check rules deploy/prometheus/alerts.yml"
"$PROMTOOL" check rules deploy/prometheus/alerts.yml

step "promtool test rules deploy/prometheus/alerts_test.yml"
"$PROMTOOL" test rules deploy/prometheus/alerts_test.yml

step "dashboard JSON parses"
python3 -m json.tool deploy/grafana/booking-dashboard.json >/dev/null
echo "  SUCCESS: deploy/grafana/booking-dashboard.json"

step "dashboard PromQL parses (promtool check rules on a temporary rule file)"
tmp_rules="$(mktemp "${TMPDIR:-/tmp}/booking-dashboard-rules.XXXXXX.yml")"
trap 'rm -f "$tmp_rules"' EXIT
python3 - deploy/grafana/booking-dashboard.json >"$tmp_rules" <<'PY'
import json, re, sys
# Grafana variables -> plain values so that promtool can parse the queries.
SUBST = {"job": "booking", "__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
def subst(expr):
    return re.sub(r"\$\{?(\w+)\}?", lambda m: SUBST.get(m.group(1), m.group(0)), expr)
exprs = []
def walk(node, title=""):
    if isinstance(node, dict):
        title = node.get("title", title)
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                exprs.append((title, subst(v)))
            else:
                walk(v, title)
    elif isinstance(node, list):
        for v in node:
            walk(v, title)
walk(json.load(open(sys.argv[1]))["panels"])
rules = [{"record": "dashboard:query_%d" % i, "expr": e} for i, (_, e) in enumerate(exprs)]
print(json.dumps({"groups": [{"name": "dashboard-queries", "rules": rules}]}, indent=1))
PY
if ! out="$("$PROMTOOL" check rules "$tmp_rules" 2>&1)"; then
  printf '%s\n' "$out"
  echo "  FAILED: a dashboard query is not valid PromQL (record dashboard:query_N = Nth expr)" >&2
  exit 1
fi
echo "  SUCCESS: all dashboard queries are valid PromQL"

step "alerts, dashboard and deploy/grafana/metrics.txt agree"
python3 - deploy/prometheus/alerts.yml deploy/grafana/booking-dashboard.json deploy/grafana/metrics.txt <<'PY'
import json, re, sys
import yaml

alerts_path, dash_path, metrics_path = sys.argv[1:4]

# Series that Prometheus itself creates for every target; they never appear
# in the booking server's /metrics, so they are not listed in metrics.txt.
SYNTHETIC = {"up"}

# PromQL words that look like identifiers but are not metric names.
KEYWORDS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool", "atan2", "inf", "nan",
}

def metric_names(expr):
    """Metric names referenced by a PromQL expression (small tokenizer, no full parser)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    s = re.sub(r"#[^\n]*", " ", s)                                            # comments
    s = re.sub(r"\$\{?\w+\}?", "1", s)                                        # Grafana variables
    s = re.sub(r"\{[^}]*\}", " ", s)                                          # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                                         # ranges / subqueries
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)  # label lists
    names = set()
    for m in re.finditer(r"(\d[\w.]*(?:[eE][+-]?\d+)?)|([A-Za-z_:][\w:]*)(\s*\()?", s):
        ident, call = m.group(2), m.group(3)
        if ident and not call and ident.lower() not in KEYWORDS:
            names.add(ident)
    return names

errors = []

# --- alerts.yml
with open(alerts_path) as f:
    rules_doc = yaml.safe_load(f)
alert_names = set()
n_rules = 0
for group in rules_doc["groups"]:
    for rule in group["rules"]:
        n_rules += 1
        name = rule.get("alert") or rule.get("record")
        alert_names |= metric_names(rule["expr"])
        if "alert" in rule:
            if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                errors.append(f"{alerts_path}: {name}: missing/unknown severity label")
            for a in ("summary", "description"):
                if not rule.get("annotations", {}).get(a):
                    errors.append(f"{alerts_path}: {name}: missing {a} annotation")

# --- dashboard
with open(dash_path) as f:
    dash = json.load(f)
dash_names = set()
n_expr = 0
def walk(node):
    global n_expr
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                n_expr += 1
                dash_names.update(metric_names(v))
            else:
                walk(v)
    elif isinstance(node, list):
        for v in node:
            walk(v)
walk(dash.get("panels", []))
for var in dash.get("templating", {}).get("list", []):   # label_values(metric, label)
    q = var.get("query")
    q = q.get("query", "") if isinstance(q, dict) else (q or "")
    for m in re.finditer(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,", q):
        dash_names.add(m.group(1))
if not any(i.get("name") == "DS_PROMETHEUS" for i in dash.get("__inputs", [])):
    errors.append(f"{dash_path}: no DS_PROMETHEUS entry in __inputs")
ids = [p["id"] for p in dash.get("panels", [])]
if len(ids) != len(set(ids)):
    errors.append(f"{dash_path}: duplicate panel ids")
for p in dash.get("panels", []):
    if p.get("type") != "row" and p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        errors.append(f"{dash_path}: panel {p.get('title')!r} does not use ${{DS_PROMETHEUS}}")

# --- metrics.txt
with open(metrics_path) as f:
    lines = [l.strip() for l in f if l.strip()]
listed = set(lines)
if lines != sorted(listed):
    errors.append(f"{metrics_path}: must be sorted and without duplicates")

referenced = (alert_names | dash_names) - SYNTHETIC
for n in sorted(referenced - listed):
    where = " and ".join(w for w, s in (("alerts.yml", alert_names), ("dashboard", dash_names)) if n in s)
    errors.append(f"{metrics_path}: missing {n} (used in {where})")
for n in sorted(listed - referenced):
    errors.append(f"{metrics_path}: {n} is listed but used by neither the alerts nor the dashboard")

print(f"  {n_rules} rules, {n_expr} dashboard queries, {len(referenced)} metric names "
      f"(+ synthetic: {', '.join(sorted((alert_names | dash_names) & SYNTHETIC)) or 'none'})")
if errors:
    for e in errors:
        print("  FAILED: " + e)
    print("\n  Expected metrics.txt content:\n    " + "\n    ".join(sorted(referenced)))
    sys.exit(1)
print("  SUCCESS: every metric name used is listed in " + metrics_path)
PY

printf '\nAll deploy checks passed.\n'
