// Vitalgate reference nurses' station: MQTT.js over WebSockets, no build
// step. Reads (docs/stations.md):
//   wards/<ward>/vitals          the ward's frame (retained): every bed with its
//                                latest sample, NEWS2 and open alerts, at most
//                                once per station_frame_ms
//   wards/<ward>/alerts          alert events as they happen (never held back)
//   wards/<ward>/alerts/active   retained list of the ward's open alerts
// and publishes an acknowledgement (docs/alerts.md "Alarm lifecycle") to
//   wards/<ward>/alerts/<alert_id>/ack   {"by": "<clinician id>"}, QoS 1
// Alarms are ordered as IEC 60601-1-8 suggests (high, medium, low, then
// the oldest first); technical alarms (a silent device) are listed apart.
// The station secret goes only to this page's own broker unless the user
// confirms another address on screen, and never unencrypted across the
// network without an explicit opt-in (broker-url.js, docs/stations.md).
/* global mqtt */
import { assessBrokerUrl, defaultBrokerUrl } from './broker-url.js';
import { MEASUREMENTS, STATION_ROWS } from './vitals-schema.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// A bed with no sample for this long shows "no data for N s" (?stale=S).
const STALE_S = Number(params.get('stale') ?? 10) || 10;
const beds = new Map();   // bed -> { sample (null: none), news2, el }
const alerts = new Map(); // alert_id -> event
let client = null;
let ward = null;
let acking = null;     // the alert whose Acknowledge asks who acknowledges
let clinician = '';    // the last clinician id given (this page only)
let pending = null;    // the address waiting for the user's confirmation
let confirmed = null;  // the address the user confirmed (exactly)

// The vitals, their labels, units and formats come from schemas/vitals/v1.json
// (vitals-schema.js is generated from it).
const FIELD = Object.fromEntries(MEASUREMENTS.map((m) => [m.key, m]));
const VITAL_NAMES = Object.fromEntries(MEASUREMENTS.map((m) => [m.key, m.name]));
const UNIT_TEXT = Object.fromEntries(MEASUREMENTS.filter((m) => m.ucum).map((m) => [m.ucum, m.unit]));

function setStatus(text, state) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = state;
}

function text(el, tag, cls, content) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (content !== undefined) e.textContent = content;
  el.appendChild(e);
  return e;
}

// One measurement as shown, or undefined when the sample does not have it.
function fieldText(s, key) {
  const m = FIELD[key];
  const v = s[key];
  if (v === undefined || v === null) return undefined;
  if (m.type === 'bool') return m.display_values?.[String(v)] ?? String(v);
  if (m.decimals) return Number(v).toFixed(m.decimals);
  return String(v);
}

// A bed card row: one measurement, or a group led by its first field
// (blood pressure: "122/78", or "122" without a diastolic).
function vitalText(s, row) {
  const [first, ...rest] = row.fields.map((k) => fieldText(s, k));
  if (first === undefined) return '–';
  return [first, ...rest.filter((t) => t !== undefined)].join(row.separator ?? '');
}

function bedHasAlert(bed) {
  for (const ev of alerts.values()) if (ev.data.bed === bed) return true;
  return false;
}

function renderBed(bed) {
  const b = beds.get(bed);
  const s = b.sample ?? {};
  const li = b.el;
  li.replaceChildren();
  li.dataset.bed = bed;
  const h = text(li, 'header');
  text(h, 'h4', null, `Bed ${bed}`);
  text(h, 'span', 'device', s.device_id ?? 'no device');
  const n2 = b.news2;
  const badge = text(li, 'p', 'news2');
  if (n2) {
    badge.dataset.band = n2.band;
    const band = n2.band === 'none' ? '' : ` · ${n2.band.replace('_', '-').toUpperCase()}`;
    badge.textContent = `NEWS2 ${n2.score}${band}${n2.parameters < 7 ? ` (${n2.parameters} of 7 parameters)` : ''}`;
  } else {
    badge.textContent = 'NEWS2 –';
  }
  const dl = text(li, 'dl');
  for (const row of STATION_ROWS) {
    text(dl, 'dt', null, row.label);
    const v = vitalText(s, row);
    text(dl, 'dd', `v-${row.key}`, v === '–' || !row.unit ? v : `${v} ${row.unit}`);
  }
  const flag = bedHasAlert(bed);
  li.dataset.alert = String(flag);
  if (flag) text(li, 'p', 'flag', '⚠ ALERT OPEN');
  const stale = text(li, 'p', 'stale');
  stale.hidden = true;
  updateStale(bed);
}

function updateStale(bed) {
  const b = beds.get(bed);
  if (!b) return;
  const age = b.sample ? Math.floor((Date.now() - Date.parse(b.sample.measured_at)) / 1000) : null;
  const stale = age === null || age >= STALE_S;
  b.el.dataset.stale = String(stale);
  const p = b.el.querySelector('.stale');
  if (p) {
    p.hidden = !stale;
    p.textContent = !stale ? '' : age === null ? 'No data' : `No data for ${age} s`;
  }
}

function sortBeds() {
  const list = $('beds');
  const order = [...beds.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  for (const k of order) list.appendChild(beds.get(k).el);
  $('no-beds').hidden = beds.size > 0;
}

// A frame is the whole ward: beds missing from it left the ward.
function onFrame(payload) {
  const f = JSON.parse(payload.toString());
  if (f.ward !== ward || typeof f.beds !== 'object' || f.beds === null) return;
  for (const [bed, b] of beds) {
    if (!(bed in f.beds)) { b.el.remove(); beds.delete(bed); }
  }
  for (const [bed, fb] of Object.entries(f.beds)) {
    let b = beds.get(bed);
    if (!b) {
      const el = document.createElement('li');
      el.className = 'bed';
      b = { el };
      beds.set(bed, b);
    }
    b.sample = fb.sample ?? null;
    b.news2 = fb.news2 ?? null;
    renderBed(bed);
  }
  sortBeds();
}

function describe(ev) {
  const d = ev.data;
  const where = d.bed ? `Bed ${d.bed}` : d.device_id;
  if (d.severity === 'none') {
    // Latched: its condition ended; what it was about.
    const what = d.kind === 'threshold' ? `${VITAL_NAMES[d.vital] ?? d.vital} out of range`
      : d.kind === 'news2' ? 'NEWS2' : `no data from ${d.device_id}`;
    return `${where}: ${what}`;
  }
  if (d.kind === 'threshold') {
    const unit = UNIT_TEXT[d.unit] ?? d.unit ?? '';
    const bound = d.direction ? ` (${d.direction === 'high' ? '≥' : '≤'} ${d.threshold} ${unit})` : '';
    return `${where}: ${VITAL_NAMES[d.vital] ?? d.vital} ${d.value} ${unit}${bound}`;
  }
  if (d.kind === 'news2') return `${where}: NEWS2 ${d.news2.score} (${d.news2.band})`;
  if (d.kind === 'silent') return `${where}: no data from ${d.device_id} (${d.reason})`;
  return `${where}: ${d.kind}`;
}

const PRIO_RANK = { high: 0, medium: 1, low: 2 };
const CLINICIAN_RE = /^[A-Za-z0-9_.@-]{1,64}$/;
const clock = (t) => new Date(t).toLocaleTimeString();

function priorityOf(ev) {
  // A broker before the alarm lifecycle: severity stands in.
  return ev.data.priority ?? (ev.data.severity === 'high' ? 'high' : 'medium');
}

function alarmOrder(a, b) {
  return (PRIO_RANK[priorityOf(a)] ?? 3) - (PRIO_RANK[priorityOf(b)] ?? 3)
    || (a.data.raised_at ?? a.timestamp).localeCompare(b.data.raised_at ?? b.timestamp);
}

// One alarm: what, its state (acknowledged, latched, condition cleared,
// escalation) in words, and the Acknowledge control while nobody has.
function renderAlarm(ul, ev) {
  const d = ev.data;
  const prio = priorityOf(ev);
  const li = text(ul, 'li', 'alert');
  li.dataset.severity = d.severity;
  li.dataset.priority = prio;
  li.dataset.category = d.category ?? 'physiological';
  li.dataset.alertId = d.alert_id;
  li.dataset.acknowledged = String(Boolean(d.acknowledged_at));
  li.dataset.latched = String(Boolean(d.latched));
  li.setAttribute('role', 'alert');
  const label = d.category === 'technical' ? 'TECHNICAL ALARM' : `${prio.toUpperCase()} ALERT`;
  text(li, 'span', 'what', `${label} — ${describe(ev)}`);
  text(li, 'span', 'when', ` · since ${clock(d.raised_at ?? ev.timestamp)}`);
  const state = text(li, 'p', 'state');
  if (d.latched) {
    text(state, 'span', 'latched', `LATCHED: condition ended at ${clock(d.condition_cleared_at ?? ev.timestamp)}, nobody acknowledged it`);
  } else if (d.condition_cleared_at) {
    text(state, 'span', 'cleared', `Condition cleared since ${clock(d.condition_cleared_at)}; the alert ends if it stays clear`);
  }
  if (d.level) text(state, 'span', 'level', `Escalated: level ${d.level}`);
  if (d.acknowledged_at) {
    text(state, 'span', 'acked', `Acknowledged by ${d.acknowledged_by} at ${clock(d.acknowledged_at)}`);
  } else if (acking === d.alert_id) {
    const form = text(li, 'form', 'ack-form');
    const lab = text(form, 'label', null, 'Who acknowledges? ');
    const input = text(lab, 'input', 'ack-by');
    input.required = true;
    input.value = clinician;
    input.placeholder = 'clinician id';
    text(form, 'button', 'ack-confirm', 'Acknowledge').type = 'submit';
    const cancel = text(form, 'button', 'ack-cancel secondary', 'Cancel');
    cancel.type = 'button';
    cancel.addEventListener('click', () => { acking = null; renderAlerts(); });
    text(form, 'span', 'ack-error');
    form.addEventListener('submit', (e) => { e.preventDefault(); sendAck(d.alert_id, input.value.trim(), form); });
    setTimeout(() => input.focus(), 0);
  } else {
    const b = text(li, 'button', 'ack', 'Acknowledge');
    b.type = 'button';
    b.addEventListener('click', () => { acking = d.alert_id; renderAlerts(); });
  }
  if (!state.childElementCount) state.remove();
}

function sendAck(alertId, by, form) {
  const err = form.querySelector('.ack-error');
  if (!CLINICIAN_RE.test(by)) {
    err.textContent = 'A clinician id: letters, digits and . _ @ - (up to 64).';
    return;
  }
  clinician = by;
  client.publish(`wards/${ward}/alerts/${alertId}/ack`, JSON.stringify({ by }), { qos: 1 }, (e) => {
    if (e) {
      err.textContent = `Not acknowledged: ${e.message ?? e} (the alert may have ended)`;
      return;
    }
    form.querySelector('.ack-by')?.blur();
    if (acking === alertId) acking = null;
    renderAlerts();
  });
}

function renderAlerts() {
  if (document.activeElement?.classList.contains('ack-by') && acking) {
    // Typing a clinician id: re-rendering would drop it; the next event redraws.
    const keep = document.activeElement;
    if (keep.closest('li')?.dataset.alertId === acking) return;
  }
  const all = [...alerts.values()].sort(alarmOrder);
  for (const [id, cat] of [['alerts', 'physiological'], ['technical', 'technical']]) {
    const ul = $(id);
    ul.replaceChildren();
    for (const ev of all.filter((x) => (x.data.category ?? 'physiological') === cat)) renderAlarm(ul, ev);
  }
  $('no-alerts').hidden = alerts.size > 0;
  $('technical-title').hidden = $('technical').childElementCount === 0;
  for (const bed of beds.keys()) renderBed(bed);
}

function onAlert(ev) {
  if (!ev || !ev.data || ev.data.ward !== ward) return;
  // A latched alert stays until acknowledged; its ack ends it.
  const ends = (ev.type === 'alert.resolved' && !ev.data.latched)
    || (ev.type === 'alert.acknowledged' && ev.data.latched);
  if (ends) alerts.delete(ev.data.alert_id);
  else alerts.set(ev.data.alert_id, ev);
  renderAlerts();
}

function onActive(list) {
  alerts.clear();
  for (const ev of list.alerts ?? []) alerts.set(ev.data.alert_id, ev);
  renderAlerts();
}

function hideTargetCheck() {
  pending = null;
  $('target-check').hidden = true;
}

// Shows where the secret would go and what is wrong with it; nothing is
// sent until the user confirms.
function showTargetCheck(target) {
  pending = target;
  $('target-check-title').textContent = target.otherOrigin ? 'Send the station secret to another server?'
    : 'Send the station secret unencrypted?';
  $('target-page').textContent = location.origin;
  $('target-other').hidden = !target.otherOrigin;
  $('target-url').textContent = target.url;
  $('cleartext-warning').hidden = !target.cleartext;
  $('allow-cleartext').checked = false;
  $('target-confirm').disabled = target.cleartext;
  $('target-check').hidden = false;
  setStatus('Not connected: confirm the broker address', 'error');
}

function connect(e) {
  e.preventDefault();
  $('login-error').textContent = '';
  const target = assessBrokerUrl($('ws').value, location);
  if (target.error) {
    $('login-error').textContent = `Broker address: ${target.error}.`;
    return;
  }
  if ((target.otherOrigin || target.cleartext) && confirmed !== target.url) {
    showTargetCheck(target);
    return;
  }
  hideTargetCheck();
  start(target);
}

function confirmTarget() {
  const now = assessBrokerUrl($('ws').value, location);
  if (!pending || now.url !== pending.url) {
    hideTargetCheck();   // the address changed meanwhile: ask again
    return;
  }
  if (pending.cleartext && !$('allow-cleartext').checked) return;
  confirmed = pending.url;
  const target = pending;
  hideTargetCheck();
  start(target);
}

function start(target) {
  ward = $('ward').value.trim();
  const station = $('station').value.trim();
  if (client) client.end(true);
  $('insecure').hidden = !target.cleartext;
  setStatus('Connecting…', 'connecting');
  client = mqtt.connect(target.url, {
    clientId: station, username: station, password: $('secret').value, protocolVersion: 5, clean: true,
    reconnectPeriod: 2000, connectTimeout: 8000,
  });
  client.on('connect', async () => {
    setStatus(`Connected as ${station}`, 'connected');
    $('login').hidden = true;
    $('ward-view').hidden = false;
    $('ward-title').textContent = `Ward ${ward}`;
    const granted = await client.subscribeAsync([
      `wards/${ward}/vitals`, `wards/${ward}/alerts`, `wards/${ward}/alerts/active`,
    ], { qos: 1 });
    if (granted.some((g) => g.qos >= 0x80)) {
      setStatus(`Connected, but ${station} may not read ward ${ward}`, 'error');
    }
  });
  client.on('message', (topic, payload) => {
    const parts = topic.split('/');
    try {
      if (parts[2] === 'vitals' && parts.length === 3) onFrame(payload);
      else if (parts[2] === 'alerts' && parts.length === 3) onAlert(JSON.parse(payload.toString()));
      else if (parts[2] === 'alerts' && parts[3] === 'active') onActive(JSON.parse(payload.toString()));
    } catch (err) {
      console.error(`bad message on ${topic}`, err);
    }
  });
  client.on('error', (err) => {
    const refused = /Not authorized|Bad User Name or Password|135|134/i.test(String(err.message ?? err));
    setStatus(refused ? 'Refused: check the station id and secret' : `Error: ${err.message ?? err}`, 'error');
    if (refused) {
      $('login-error').textContent = 'The broker refused this station id or secret.';
      client.end(true);
    }
  });
  client.on('offline', () => setStatus('Connection lost; reconnecting…', 'error'));
}

// ?ws= only pre-fills the field: another origin still needs a confirmation.
$('ws').value = params.get('ws') ?? defaultBrokerUrl(location);
$('ward').value = params.get('ward') ?? '';
$('station').value = params.get('station') ?? '';
$('login').addEventListener('submit', connect);
$('ws').addEventListener('input', () => { confirmed = null; hideTargetCheck(); });
$('allow-cleartext').addEventListener('change', () => { $('target-confirm').disabled = !$('allow-cleartext').checked; });
$('target-confirm').addEventListener('click', confirmTarget);
$('target-cancel').addEventListener('click', () => { hideTargetCheck(); setStatus('Not connected', 'idle'); });
setInterval(() => { for (const bed of beds.keys()) updateStale(bed); }, 1000);
