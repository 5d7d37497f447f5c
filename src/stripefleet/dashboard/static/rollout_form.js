// The New rollout form: one value or a key pair, and the safety options' defaults of
// the chosen setting (from the server: #safety-defaults), applied when the page is new
// and whenever the setting changes. A secret input is a password input, never filled in.
(function () {
  'use strict';
  var form = document.getElementById('rollout-form');
  if (!form) { return; }
  var setting = document.getElementById('setting');
  var value = document.getElementById('value');
  var single = document.getElementById('single-value');
  var pair = document.getElementById('pair-values');
  var defaults = JSON.parse(document.getElementById('safety-defaults').textContent || '{}');

  function applyDefaults(name) {
    var d = defaults[name];
    if (!d) { return; }
    document.getElementById('batches').value = d.batches;
    document.getElementById('max-fail').value = d.max_fail_percentage;
    document.getElementById('pause-for-approval').checked = !!d.pause_for_approval;
    document.getElementById('rollback-on-halt').checked = !!d.rollback_on_halt;
    document.getElementById('functional-verify').checked = !!d.functional_verify;
  }

  function sync() {
    var opt = setting.options[setting.selectedIndex];
    var isPair = opt && opt.value === 'key_pair';
    single.hidden = isPair;
    value.disabled = isPair;
    value.required = !isPair;
    pair.hidden = !isPair;
    pair.querySelectorAll('input').forEach(function (el) { el.disabled = !isPair; });
    document.getElementById('pair-publishable').required = isPair;
    document.getElementById('pair-secret').required = isPair;
    value.type = opt && opt.dataset.secret === 'yes' ? 'password' : 'text';
    if (value.type === 'password') { value.autocomplete = 'new-password'; }
  }

  setting.addEventListener('change', function () { sync(); applyDefaults(setting.value); });
  sync();
  if (form.dataset.fresh === 'yes') { applyDefaults(setting.value); }
})();
