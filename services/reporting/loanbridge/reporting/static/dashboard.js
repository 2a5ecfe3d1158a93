// The dashboard: signs in against identity (password grant) and reads reporting's KPI API with the token.
(function () {
  "use strict";

  var API = "/api/reporting/v1";
  var TOKEN_URL = "/api/identity/v1/token";
  var TOKEN_KEY = "loanbridge.dashboard.token";
  var PRODUCTS = { house: "房抵贷", credit: "信抵贷", car: "车抵贷" };
  var CHANNELS = { douyin: "抖音", baidu: "百度", ground: "地推", referral: "转介绍" };
  var CITIES = ["济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽"];
  var charts = {};

  function $(id) { return document.getElementById(id); }
  function product(code) { return PRODUCTS[code] || code; }
  function channel(code) { return CHANNELS[code] || code; }
  function percent(value) { return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%"; }
  function yuan(value) { return Number(value || 0).toLocaleString("zh-CN", { maximumFractionDigits: 2 }); }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function showSignIn(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("board").hidden = true;
    $("sign-out").hidden = true;
    $("who").textContent = "";
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
  }

  function claims(jwt) {
    try {
      var body = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(body))));
    } catch (error) {
      return {};
    }
  }

  function signIn(event) {
    event.preventDefault();
    var form = new FormData(event.target);
    var body = new URLSearchParams({ grant_type: "password", username: form.get("username"), password: form.get("password") });
    fetch(TOKEN_URL, { method: "POST", body: body, headers: { "Content-Type": "application/x-www-form-urlencoded" } })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) { throw new Error(answer.message || "登录失败"); }
          sessionStorage.setItem(TOKEN_KEY, answer.access_token);
          showBoard();
        });
      })
      .catch(function (error) { $("sign-in-error").textContent = error.message || "登录失败,请稍后重试"; });
  }

  function query() {
    var params = new URLSearchParams();
    new FormData($("filters")).forEach(function (value, key) { if (value) { params.set(key, value); } });
    return params;
  }

  function get(endpoint, extra) {
    var params = query();
    Object.keys(extra || {}).forEach(function (key) { params.set(key, extra[key]); });
    return fetch(API + "/" + endpoint + "?" + params.toString(), { headers: { Authorization: "Bearer " + token() } })
      .then(function (response) {
        if (response.status === 401) { showSignIn("登录已失效,请重新登录"); throw new Error("登录已失效"); }
        return response.json().then(function (answer) {
          if (!response.ok) { throw new Error(answer.message || "查询失败"); }
          return answer.rows;
        });
      });
  }

  function chart(id) {
    // No animation: a manager opening the board wants the numbers at once (and a screenshot shows them).
    if (!charts[id]) { charts[id] = echarts.init($(id)); charts[id].setOption({ animation: false }); }
    return charts[id];
  }

  function empty(id, rows) {
    if (rows.length) { return false; }
    chart(id).setOption({ animation: false, title: { text: "暂无数据", left: "center", top: "middle", textStyle: { color: "#8a97a8", fontSize: 14 } } }, true);
    return true;
  }

  function drawFunnel(rows) {
    var shown = rows.filter(function (row) { return ["rejected", "lender_declined", "lost"].indexOf(row.stage) < 0; });
    if (empty("chart-funnel", shown)) { return; }
    chart("chart-funnel").setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: "{b}: {c}" },
      series: [{ type: "funnel", sort: "none", left: "10%", width: "80%", label: { formatter: "{b} {c}" },
        data: shown.map(function (row) { return { name: row.stage_name, value: row.reached }; }) }]
    }, true);
  }

  function byChannel(rows, fields) {
    var groups = {};
    rows.forEach(function (row) {
      var group = groups[row.channel] || (groups[row.channel] = {});
      fields.forEach(function (field) { group[field] = (group[field] || 0) + row[field]; });
    });
    return groups;
  }

  function drawConversion(rows) {
    if (empty("chart-conversion", rows)) { return; }
    var steps = [["leads", "线索"], ["submitted", "提交申请"], ["risk_approved", "风控通过"], ["lender_submitted", "提交机构"], ["lender_approved", "机构批准"], ["disbursed", "放款"]];
    var groups = byChannel(rows, steps.map(function (step) { return step[0]; }));
    var names = Object.keys(groups).sort();
    chart("chart-conversion").setOption({
      animation: false,
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { top: 40, bottom: 30, left: 50, right: 20 },
      xAxis: { type: "category", data: names.map(channel) }, yAxis: { type: "value", name: "数量" },
      series: steps.map(function (step) {
        return { name: step[1], type: "bar", data: names.map(function (name) { return groups[name][step[0]]; }) };
      })
    }, true);
  }

  function drawRoi(rows) {
    if (empty("chart-roi", rows)) { return; }
    chart("chart-roi").setOption({
      animation: false,
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { top: 40, bottom: 30, left: 70, right: 70 },
      xAxis: { type: "category", data: rows.map(function (row) { return channel(row.channel); }) },
      yAxis: [{ type: "value", name: "元" }, { type: "value", name: "单笔放款成本" }],
      series: [
        { name: "投放费用", type: "bar", data: rows.map(function (row) { return row.spend; }) },
        { name: "佣金", type: "bar", data: rows.map(function (row) { return row.commission; }) },
        { name: "单条线索成本", type: "line", yAxisIndex: 1, data: rows.map(function (row) { return row.cost_per_lead; }) },
        { name: "单笔放款成本", type: "line", yAxisIndex: 1, data: rows.map(function (row) { return row.cost_per_loan; }) }
      ]
    }, true);
  }

  function drawOverdue(rows) {
    if (empty("chart-overdue", rows)) { return; }
    var vintages = {}, products = {};
    rows.forEach(function (row) {
      products[row.product] = true;
      var key = row.vintage + "|" + row.product;
      var group = vintages[key] || (vintages[key] = { principal: 0, m1: 0, m3: 0 });
      group.principal += row.principal; group.m1 += row.m1_principal; group.m3 += row.m3_principal;
    });
    var months = Array.from(new Set(rows.map(function (row) { return row.vintage; }))).sort();
    var series = [];
    Object.keys(products).sort().forEach(function (code) {
      [["m1", "M1+"], ["m3", "M3+"]].forEach(function (bucket) {
        series.push({
          name: product(code) + " " + bucket[1], type: "line", connectNulls: true, symbolSize: 8,
          data: months.map(function (month) {
            var group = vintages[month + "|" + code];
            return group && group.principal ? +(group[bucket[0]] / group.principal * 100).toFixed(2) : null;
          })
        });
      });
    });
    chart("chart-overdue").setOption({
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: function (value) { return value === null ? "—" : value + "%"; } },
      legend: { top: 0 }, grid: { top: 40, bottom: 40, left: 50, right: 20 },
      xAxis: { type: "category", data: months, name: "放款月", nameLocation: "middle", nameGap: 24 },
      yAxis: { type: "value", name: "按本金 %" },
      series: series
    }, true);
  }

  function drawTrends(rows) {
    if (empty("chart-trends", rows)) { return; }
    var lines = [["leads", "线索"], ["evaluations", "风控评估"], ["lender_submissions", "提交机构"], ["loans", "放款笔数"]];
    chart("chart-trends").setOption({
      animation: false,
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { top: 40, bottom: 30, left: 50, right: 70 },
      xAxis: { type: "category", data: rows.map(function (row) { return row.week; }) },
      yAxis: [{ type: "value", name: "数量" }, { type: "value", name: "放款本金(元)" }],
      series: lines.map(function (line) {
        return { name: line[1], type: "line", data: rows.map(function (row) { return row[line[0]]; }) };
      }).concat([{ name: "放款本金", type: "bar", yAxisIndex: 1, data: rows.map(function (row) { return row.principal; }) }])
    }, true);
  }

  function drawApprovals(rows) {
    if (empty("chart-approvals", rows)) { return; }
    var labels = rows.map(function (row) { return channel(row.channel) + "·" + product(row.product); });
    chart("chart-approvals").setOption({
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: function (value) { return value === null ? "—" : value + "%"; } },
      legend: { top: 0 }, grid: { top: 40, bottom: 50, left: 50, right: 20 },
      xAxis: { type: "category", data: labels, axisLabel: { rotate: 20 } }, yAxis: { type: "value", name: "%", max: 100 },
      series: [
        { name: "风控通过率", type: "bar", data: rows.map(function (row) { return row.risk_approval_rate === null ? null : +(row.risk_approval_rate * 100).toFixed(1); }) },
        { name: "机构批准率", type: "bar", data: rows.map(function (row) { return row.lender_approval_rate === null ? null : +(row.lender_approval_rate * 100).toFixed(1); }) }
      ]
    }, true);
  }

  function drawLeaderboard(id, rows, who) {
    var table = $(id);
    table.textContent = "";
    var head = table.insertRow();
    ["名次", who, "线索", "提交申请", "放款笔数", "放款本金(元)", "佣金(元)", "转化率", "人均跟进", "签约天数(中位)"].forEach(function (text) {
      var cell = document.createElement("th"); cell.textContent = text; head.appendChild(cell);
    });
    if (!rows.length) {
      var cell = table.insertRow().insertCell(); cell.colSpan = 10; cell.className = "empty"; cell.textContent = "暂无数据";
      return;
    }
    rows.slice(0, 20).forEach(function (row) {
      var line = table.insertRow();
      [row.rank, row.name, row.leads, row.submitted, row.loans, yuan(row.principal), yuan(row.commission), percent(row.conversion_rate),
        row.contacts_per_lead === null ? "—" : row.contacts_per_lead.toFixed(1),
        row.median_days_to_contract === null ? "—" : row.median_days_to_contract.toFixed(1)]
        .forEach(function (value) { line.insertCell().textContent = value; });
    });
  }

  function refresh(event) {
    if (event) { event.preventDefault(); }
    $("board-error").textContent = "";
    var jobs = [
      get("funnel").then(drawFunnel),
      get("kpis").then(drawConversion),
      get("roi").then(drawRoi),
      get("overdue").then(drawOverdue),
      get("trends").then(drawTrends),
      get("approvals").then(drawApprovals),
      get("leaderboard", { by: "owner" }).then(function (rows) { drawLeaderboard("table-owners", rows, "销售"); }),
      get("leaderboard", { by: "team" }).then(function (rows) { drawLeaderboard("table-teams", rows, "团队"); })
    ];
    return Promise.all(jobs)
      .then(function () { document.body.dataset.loaded = "true"; })
      .catch(function (error) { $("board-error").textContent = error.message || "查询失败"; });
  }

  function download(event) {
    event.preventDefault();
    var params = query();
    params.set("kpi", event.target.dataset.kpi);
    fetch(API + "/export.xlsx?" + params.toString(), { headers: { Authorization: "Bearer " + token() } })
      .then(function (response) {
        if (!response.ok) { throw new Error("导出失败"); }
        return response.blob();
      })
      .then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = "loanbridge-" + event.target.dataset.kpi + ".xlsx";
        link.click();
        URL.revokeObjectURL(link.href);
      })
      .catch(function (error) { $("board-error").textContent = error.message; });
  }

  function defaultRange() {
    var params = new URLSearchParams(location.search);
    var form = $("filters");
    ["from", "to", "channel", "product", "city"].forEach(function (key) {
      if (params.get(key)) { form.elements[key].value = params.get(key); }
    });
  }

  function showBoard() {
    var who = claims(token());
    $("sign-in").hidden = true;
    $("board").hidden = false;
    $("sign-out").hidden = false;
    $("who").textContent = (who.name || who.preferred_username || "") + " " + (who.roles || []).join(" / ");
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    CITIES.forEach(function (city) { var option = document.createElement("option"); option.value = city; $("cities").appendChild(option); });
    defaultRange();
    $("sign-in-form").addEventListener("submit", signIn);
    $("filters").addEventListener("submit", refresh);
    $("sign-out").addEventListener("click", function () { showSignIn(""); });
    Array.prototype.forEach.call(document.querySelectorAll(".export"), function (link) { link.addEventListener("click", download); });
    window.addEventListener("resize", function () { Object.keys(charts).forEach(function (id) { charts[id].resize(); }); });
    if (token()) { showBoard(); } else { showSignIn(""); }
  });
})();
