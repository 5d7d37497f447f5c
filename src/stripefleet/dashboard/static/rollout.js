// Live progress of a rollout: polls GET /api/rollouts/<id> and redraws the bar, the
// counts, the recap and one row per site, until the rollout is finished.
(function () {
  'use strict';
  var actions = document.getElementById('actions');
  if (!actions) { return; }
  var id = actions.dataset.rolloutId;
  var finished = ['succeeded', 'partially_failed', 'failed', 'halted', 'rolled_back'];
  var body = document.querySelector('#targets tbody');
  var LIMIT = 2000;  // rows drawn; the counts and the recap always cover every target

  function cell(text, cls) {
    var td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (cls) { td.className = cls; }
    return td;
  }

  function draw(data) {
    var r = data.rollout, p = data.progress || {}, total = r.total || 0;
    var pending = p.pending || 0, done = total - pending;
    document.getElementById('state').textContent = r.state;
    document.getElementById('state').className = 'state state-' + r.state;
    document.getElementById('bar').style.width = (total ? Math.round(100 * done / total) : 100) + '%';
    var parts = [];
    Object.keys(p).sort().forEach(function (k) { parts.push(k.replace('_', ' ') + ': ' + p[k]); });
    document.getElementById('counts').textContent = done + ' / ' + total + ' done — ' + parts.join(', ');
    if (r.recap) {
      var recap = [];
      Object.keys(r.recap).forEach(function (k) { recap.push(k + '=' + r.recap[k]); });
      document.getElementById('recap').textContent = 'RECAP ' + recap.join(' ');
    }
    body.textContent = '';
    (data.targets || []).forEach(function (t) {
      var tr = document.createElement('tr');
      tr.dataset.state = t.state;
      tr.appendChild(cell((t.name || '') + ' ' + t.url));
      tr.appendChild(cell(t.state.replace('_', ' '), 'state-' + t.state));
      tr.appendChild(cell(t.http_status));
      tr.appendChild(cell(t.attempts));
      tr.appendChild(cell(t.latency_ms));
      tr.appendChild(cell(t.masked_before || t.fingerprint_before));
      tr.appendChild(cell(t.masked_after || t.fingerprint_after));
      tr.appendChild(cell(t.error ? t.error + (t.message ? ': ' + t.message : '') : ''));
      body.appendChild(tr);
    });
    var isDone = finished.indexOf(r.state) >= 0;
    var counts = r.recap || {};
    var failures = (counts.failed || 0) + (counts.unreachable || 0) + (counts.skipped || 0);
    document.querySelectorAll('.when-finished').forEach(function (el) {
      el.hidden = !isDone
        || (el.classList.contains('needs-failures') && !failures)
        || (el.classList.contains('needs-changes') && (!counts.changed || r.state === 'rolled_back'));
    });
    document.querySelectorAll('.when-running').forEach(function (el) { el.hidden = isDone; });
    return isDone;
  }

  function poll() {
    fetch('/api/rollouts/' + id + '?limit=' + LIMIT, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (resp) { return resp.json(); })
      .then(function (data) {
        if (!data.success) { return; }
        if (!draw(data)) { window.setTimeout(poll, 700); }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
