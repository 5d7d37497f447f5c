// Live progress of a rollout: polls GET /api/rollouts/<id> and redraws the bar, the
// counts, the batches, the recap and one row per site, until the rollout is finished
// (and, when it halted and rolled back, until its rollback is finished too). While the
// rollout awaits approval after its first batch, it shows the canary's results and the
// Continue / Halt buttons (plain forms, CSRF-checked, rendered by the server).
(function () {
  'use strict';
  var actions = document.getElementById('actions');
  if (!actions) { return; }
  var id = actions.dataset.rolloutId;
  var finished = ['succeeded', 'partially_failed', 'failed', 'halted', 'rolled_back'];
  // A dry run records the preflight's refusal of each site on its row (a push refused
  // by the preflight is never created); the functional check's codes are not these.
  var preflightCodes = actions.dataset.kind === 'dry_run'
    ? ['mode_mismatch', 'account_mismatch', 'pair_mode_mismatch'] : [];
  var body = document.querySelector('#targets tbody');
  var LIMIT = 2000;  // rows drawn; the counts and the recap always cover every target

  function byId(name) { return document.getElementById(name); }

  function cell(text, cls) {
    var td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (cls) { td.className = cls; }
    return td;
  }

  function show(name, visible) { byId(name).hidden = !visible; }

  function countsText(counts) {
    var parts = [];
    Object.keys(counts || {}).sort().forEach(function (k) {
      if (counts[k]) { parts.push(k.replace(/_/g, ' ') + ': ' + counts[k]); }
    });
    return parts.join(', ');
  }

  function recapText(recap) {
    var parts = [];
    Object.keys(recap || {}).forEach(function (k) { parts.push(k + '=' + recap[k]); });
    return 'RECAP ' + parts.join(' ');
  }

  function functional(t) {
    if (!t.functional) { return ''; }
    var text = t.functional === 'unavailable' ? 'functional_check_unavailable' : t.functional;
    if (t.account_id) {
      text += ' · ' + t.account_id + (t.livemode === true ? ' (live)' : t.livemode === false ? ' (test)' : '');
    }
    return text;
  }

  function targetRow(t, columns) {
    var tr = document.createElement('tr');
    tr.dataset.state = t.state;
    if (t.batch !== undefined && t.batch !== null) { tr.dataset.batch = t.batch; }
    var refused = t.error && preflightCodes.indexOf(t.error) >= 0;
    if (refused) { tr.dataset.preflight = t.error; tr.className = 'refused'; }
    tr.appendChild(cell((t.name || '') + ' ' + t.url));
    tr.appendChild(cell(t.state.replace(/_/g, ' '), 'state-' + t.state));
    if (columns === 'full') {
      tr.appendChild(cell(t.http_status));
      tr.appendChild(cell(t.attempts));
      tr.appendChild(cell(t.latency_ms));
      tr.appendChild(cell(t.masked_before || t.fingerprint_before));
      tr.appendChild(cell(t.masked_after || t.fingerprint_after));
    }
    tr.appendChild(cell(functional(t), t.functional && t.functional !== 'ok' && t.functional !== 'unavailable' ? 'drift' : ''));
    var error = t.error ? t.error + (t.message ? ': ' + t.message : '') : '';
    if (refused) { error = 'refused by the preflight: ' + error; }
    tr.appendChild(cell(error));
    return tr;
  }

  function drawBatches(r) {
    var tbody = document.querySelector('#batches tbody');
    var batches = r.batches || [];
    if (!batches.length) { return; }
    tbody.textContent = '';
    batches.forEach(function (b) {
      var tr = document.createElement('tr');
      var running = r.current_batch === b.index && finished.indexOf(r.state) < 0;
      tr.dataset.batch = b.index;
      tr.dataset.state = b.state;
      if (running) { tr.className = 'current'; }
      tr.appendChild(cell('#' + (b.index + 1) + (b.index === 0 && batches.length > 1 ? ' (canary)' : '')));
      tr.appendChild(cell(b.size));
      tr.appendChild(cell(running && r.state === 'awaiting_approval' ? 'awaiting approval' : b.state,
                          'batch-' + b.state));
      tr.appendChild(cell(countsText(b.counts)));
      tbody.appendChild(tr);
    });
  }

  function drawFacts(r) {
    var threshold = r.max_fail_percentage;
    if (threshold === undefined || threshold === null) { threshold = (r.options || {}).max_fail_percentage; }
    if (threshold !== undefined && threshold !== null) {
      byId('threshold').textContent = 'halts when more than ' + threshold + ' % of a batch fails';
    }
    if (r.preflight && r.preflight.account_id) {
      byId('preflight').textContent = r.preflight.account_id + ' · ' +
        (r.preflight.livemode ? 'live mode' : 'test mode');
    }
    show('halt-reason-label', !!r.halt_reason);
    show('halt-reason', !!r.halt_reason);
    byId('halt-reason').textContent = r.halt_reason || '';
  }

  var rollbackState = null;  // the rollback rollout's state, once fetched
  var graceLeft = 30;  // polls after a halt that rolls back, until its rollback appears

  function drawRollback(r) {
    var rid = r.rollback_rollout_id;
    show('rollback-label', !!rid);
    show('rollback-by', !!rid);
    if (!rid) { return; }
    var link = byId('rollback-link');
    link.href = '/rollouts/' + rid;
    link.textContent = 'rollout #' + rid;
    fetch('/api/rollouts/' + rid + '?limit=0', {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (resp) { return resp.json(); })
      .then(function (data) {
        if (!data.success) { return; }
        var rb = data.rollout;
        byId('rollback-state').textContent = rb.state;
        byId('rollback-state').className = 'state-' + rb.state;
        byId('rollback-recap').textContent = rb.recap ? recapText(rb.recap) : countsText(data.progress);
        rollbackState = rb.state;
      });
  }

  function drawApproval(r, targets) {
    var waiting = r.state === 'awaiting_approval';
    show('approval', waiting);
    if (!waiting) { return; }
    var first = (r.batches || [])[0];
    byId('canary-counts').textContent = first ? 'canary: ' + first.size + ' site(s) — ' + countsText(first.counts) : '';
    var tbody = document.querySelector('#canary tbody');
    tbody.textContent = '';
    targets.filter(function (t) {
      return t.batch !== undefined && t.batch !== null ? t.batch === 0 : t.state !== 'pending';
    }).forEach(function (t) { tbody.appendChild(targetRow(t, 'short')); });
  }

  function draw(data) {
    var r = data.rollout, p = data.progress || {}, total = r.total || 0;
    var pending = p.pending || 0, done = total - pending;
    var targets = data.targets || [];
    byId('state').textContent = r.state;
    byId('state').className = 'state state-' + r.state;
    byId('bar').style.width = (total ? Math.round(100 * done / total) : 100) + '%';
    var batches = r.batches || [];
    var where = r.current_batch !== null && r.current_batch !== undefined && batches.length > 1
      ? ' — batch ' + (r.current_batch + 1) + ' of ' + batches.length : '';
    byId('counts').textContent = done + ' / ' + total + ' done' + where + ' — ' + countsText(p);
    if (r.recap) { byId('recap').textContent = recapText(r.recap); }
    drawFacts(r);
    drawBatches(r);
    drawRollback(r);
    drawApproval(r, targets);
    body.textContent = '';
    targets.forEach(function (t) { body.appendChild(targetRow(t, 'full')); });
    var isDone = finished.indexOf(r.state) >= 0;
    var counts = r.recap || {};
    var failures = (counts.failed || 0) + (counts.unreachable || 0) + (counts.skipped || 0);
    document.querySelectorAll('.when-finished').forEach(function (el) {
      el.hidden = !isDone
        || (el.classList.contains('needs-failures') && !failures)
        || (el.classList.contains('needs-changes') && (!counts.changed || r.state === 'rolled_back' || r.rollback_rollout_id));
    });
    document.querySelectorAll('.when-running').forEach(function (el) {
      el.hidden = isDone || r.state === 'awaiting_approval';
    });
    if (isDone && !r.rollback_rollout_id && r.state === 'halted'
        && (r.options || {}).rollback_on_halt && graceLeft > 0) {
      graceLeft -= 1;
      return false;
    }
    return isDone && (!r.rollback_rollout_id || finished.indexOf(rollbackState) >= 0);
  }

  function poll() {
    fetch('/api/rollouts/' + id + '?limit=' + LIMIT, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (resp) { return resp.json(); })
      .then(function (data) {
        if (!data.success) { window.setTimeout(poll, 2000); return; }
        if (!draw(data)) {
          window.setTimeout(poll, data.rollout.state === 'awaiting_approval' ? 1500 : 700);
        }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();
