
// Filters of the Flowalerts report: by profile, evidence type, lowest threat
// level and a text search, by showing and hiding rows (the `hidden`
// attribute). Everything it reads comes from data-* attributes, element text
// and the JSON block #report-data (parsed with JSON.parse); text is only ever
// set with textContent, never parsed as HTML.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var byId = function (id) { return document.getElementById(id); };
  var profileSelect = byId("f-profile");
  var typeSelect = byId("f-type");
  var levelSelect = byId("f-level");
  var textInput = byId("f-text");
  var status = byId("f-status");

  function fill(select, values) {
    values.forEach(function (value) {
      var option = document.createElement("option");
      option.value = value;
      option.textContent = value;
      select.appendChild(option);
    });
  }
  fill(profileSelect, data.profiles);
  fill(typeSelect, data.types);

  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }
  function listOf(element) {
    try { return JSON.parse(element.getAttribute("data-types") || "[]"); } catch (e) { return []; }
  }
  // The `hidden` attribute (not the property: SVG elements have none).
  function show(element, visible) {
    if (visible) { element.removeAttribute("hidden"); } else { element.setAttribute("hidden", ""); }
  }
  function contains(text, query) { return text.toLowerCase().indexOf(query) >= 0; }

  // "Flows behind it": a table built from data.flows when first opened.
  function cell(row, text, tag) {
    var element = document.createElement(tag || "td");
    element.textContent = text;
    row.appendChild(element);
    return element;
  }
  function buildFlows(details) {
    if (details.getAttribute("data-built") === "yes") { return; }
    details.setAttribute("data-built", "yes");
    var records = data.flows[details.getAttribute("data-flows")] || [];
    var table = document.createElement("table");
    table.className = "flows-table";
    var head = document.createElement("tr");
    ["uid", "log", "time", "endpoints", "fields"].forEach(function (name) { cell(head, name, "th"); });
    table.appendChild(document.createElement("thead")).appendChild(head);
    var body = table.appendChild(document.createElement("tbody"));
    records.forEach(function (record) {
      var row = document.createElement("tr");
      row.className = "flow";
      row.setAttribute("data-log", record[1]);
      cell(row, record[0]).className = "mono";
      cell(row, record[1]);
      cell(row, record[2]);
      cell(row, record[3]);
      var fields = cell(row, "");
      record[4].forEach(function (pair) {
        var item = fields.appendChild(document.createElement("span"));
        item.className = "kv";
        item.appendChild(document.createElement("span")).className = "k";
        item.firstChild.textContent = pair[0];
        item.appendChild(document.createTextNode(" "));
        var value = item.appendChild(document.createElement("span"));
        value.className = "v";
        value.textContent = pair[1];
        fields.appendChild(document.createTextNode(" "));
      });
      body.appendChild(row);
    });
    details.appendChild(table);
  }
  document.addEventListener("toggle", function (event) {
    var target = event.target;
    if (target.open && target.hasAttribute && target.hasAttribute("data-flows")) { buildFlows(target); }
  }, true);
  // The text of an evidence's flows, for the search (built once, lower case).
  var flowText = {};
  function flowsOf(element) {
    var anchor = element.id;
    if (!(anchor in flowText)) {
      flowText[anchor] = (data.flows[anchor] || []).map(function (record) {
        return record.slice(0, 4).concat(record[4].map(function (pair) { return pair.join(" "); })).join(" ");
      }).join(" ").toLowerCase();
    }
    return flowText[anchor];
  }

  var evidence = all('[data-row="evidence"]');
  var profiles = all('[data-row="profile"]');
  var alerts = all('[data-row="alert"]');
  var timeline = all('[data-row="timeline"]');

  function apply() {
    var profile = profileSelect.value;
    var type = typeSelect.value;
    var level = Number(levelSelect.value) || 0;
    var query = textInput.value.trim().toLowerCase();
    var filtering = Boolean(type || level || query);
    var shownEvidence = 0;
    var visibleIn = {};
    evidence.forEach(function (element) {
      var owner = element.getAttribute("data-profile");
      var visible = (!profile || owner === profile)
        && (!type || element.getAttribute("data-type") === type)
        && Number(element.getAttribute("data-level")) >= level
        && (!query || contains(owner, query) || contains(element.textContent, query)
          || flowsOf(element).indexOf(query) >= 0);
      show(element, visible);
      if (visible) {
        shownEvidence += 1;
        visibleIn[owner] = true;
      }
    });
    var shownProfiles = 0;
    var profileShown = {};
    profiles.forEach(function (element) {
      var owner = element.getAttribute("data-profile");
      var visible = (!profile || owner === profile) && (!filtering || visibleIn[owner] === true);
      show(element, visible);
      profileShown[owner] = visible;
      if (visible) { shownProfiles += 1; }
    });
    var shownAlerts = 0;
    alerts.forEach(function (element) {
      var visible = (!profile || element.getAttribute("data-profile") === profile)
        && (!type || listOf(element).indexOf(type) >= 0)
        && Number(element.getAttribute("data-level")) >= level
        && (!query || contains(element.textContent, query));
      show(element, visible);
      if (visible) { shownAlerts += 1; }
    });
    timeline.forEach(function (element) {
      var owner = element.getAttribute("data-profile");
      var visible = (!profile || owner === profile)
        && (!type || listOf(element).indexOf(type) >= 0)
        && Number(element.getAttribute("data-level")) >= level
        && (!query || profileShown[owner] === true || contains(owner, query));
      show(element, visible);
      Array.prototype.forEach.call(element.querySelectorAll("rect.mark"), function (mark) {
        show(mark, Number(mark.getAttribute("data-level")) >= level);
      });
    });
    status.textContent = "showing " + shownAlerts + " of " + alerts.length + " alerts, "
      + shownEvidence + " of " + evidence.length + " evidence, "
      + shownProfiles + " of " + profiles.length + " profiles";
  }

  [profileSelect, typeSelect, levelSelect].forEach(function (element) {
    element.addEventListener("change", apply);
  });
  textInput.addEventListener("input", apply);
  byId("f-clear").addEventListener("click", function () {
    profileSelect.value = "";
    typeSelect.value = "";
    levelSelect.value = "0";
    textInput.value = "";
    apply();
  });
  apply();
}());
