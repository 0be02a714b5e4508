// Escalation in the Node.js core (docs/alerts.md "Alarm lifecycle"): who is
// told at each level of an unanswered alarm. Vitalgate only says that an
// alert is still unacknowledged (alert.escalated with "level": 1, 2, ...);
// the hospital decides who gets the page. This is the reference ladder:
//
//   level 1   the bed's nurse
//   level 2   the ward's charge nurse
//   level 3+  the failsafe: the rapid response team (never silent)
//
// An ack (alert.acknowledged) or the end of a non-latched alert
// (alert.resolved without "latched") stops the ladder; a latched alert keeps
// escalating until acknowledged. This is a secondary alarm system: every
// page says so, and it never replaces the alarm at the bedside.
//
//   import { escalationHandler } from '@vitalgate/node/examples/escalation.mjs';
//   createHandler({ secrets, onEvent: escalationHandler({ roster, page }) });

/** The people for one level of an alert of a ward and bed. */
export function recipientsFor(level, { ward, bed }, roster) {
  const w = roster[ward] ?? {};
  if (level <= 1) return [w.nurses?.[bed] ?? w.charge ?? roster.failsafe].filter(Boolean);
  if (level === 2) return [w.charge ?? roster.failsafe].filter(Boolean);
  return [roster.failsafe].filter(Boolean);
}

/**
 * An onEvent for createHandler: pages the recipients of each escalation
 * level once (the handler already dedupes webhook-ids), and tells the pager
 * when an alert no longer needs anyone.
 * roster: { failsafe: 'rrt', [ward]: { charge: 'charge-5n', nurses: { [bed]: 'nurse-jo' } } }
 * page(to, message, event): sends one page (a pager, a phone, a chat).
 */
export function escalationHandler({ roster, page }) {
  const open = new Map(); // alert_id -> the people paged for it
  return async (ev) => {
    const d = ev.data;
    if (ev.type === 'alert.escalated') {
      const to = recipientsFor(d.level, d, roster);
      const where = d.bed ? `${d.ward} bed ${d.bed}` : `${d.ward ?? 'unassigned'} ${d.device_id}`;
      const msg = `[secondary alarm] ${d.priority ?? ''} ${d.kind} alert at ${where} unanswered since ${d.raised_at} (level ${d.level})`;
      for (const who of to) await page(who, msg, ev);
      open.set(d.alert_id, [...new Set([...(open.get(d.alert_id) ?? []), ...to])]);
      return;
    }
    const over = ev.type === 'alert.acknowledged' || (ev.type === 'alert.resolved' && !d.latched);
    if (over && open.has(d.alert_id)) {
      const why = ev.type === 'alert.acknowledged' ? `acknowledged by ${d.acknowledged_by}` : 'resolved';
      for (const who of open.get(d.alert_id)) await page(who, `[secondary alarm] alert ${d.alert_id} ${why}: stand down`, ev);
      open.delete(d.alert_id);
    }
  };
}
