// table.js: the live table of records, newest at the top. New rows go in at
// the top; while a person reads further down (or has a row focused), the
// rows they look at stay where they are on screen and the table counts how
// many came in above them instead. At most maxRows rows are kept: the
// oldest leave at the bottom. The search box hides rows that do not match.
// Keyboard: one row is in the tab order (roving tabindex); arrows, Home,
// End, Page Up/Down move between rows and Enter opens the detail view.

import { matches, summarize } from './record.js';

export class LiveTable {
  /**
   * tbody: the table's body. onOpen(rec): a row was chosen (Enter, click).
   * onChange(): rows, the search or the count of new rows above changed.
   * stickyTop(): how far down the viewport the table's sticky header ends.
   */
  constructor(tbody, { maxRows = 1000, onOpen = () => {}, onChange = () => {}, stickyTop = () => 0 } = {}) {
    this.tbody = tbody;
    this.maxRows = maxRows;
    this.onOpen = onOpen;
    this.onChange = onChange;
    this.stickyTop = stickyTop;
    this.rows = []; // newest first: { rec, summary, tr } or { marker: text, tr }
    this.query = '';
    this.newAbove = 0;
    this.shown = 0; // records that match the search
    this.records = 0; // records in the table
    tbody.addEventListener('keydown', (e) => this.keydown(e));
    tbody.addEventListener('click', (e) => {
      if (e.target.closest('a, button')) return;
      const tr = e.target.closest('tr');
      if (tr?.record) this.onOpen(tr.record, tr);
    });
    tbody.addEventListener('focusin', (e) => {
      const tr = e.target.closest('tr');
      if (tr) this.setTabStop(tr);
    });
  }

  /** Whether the reader is looking at rows below the top one. */
  reading() {
    const first = this.firstVisible();
    if (!first) return false;
    if (this.tbody.contains(document.activeElement) && document.activeElement !== first.tr) return true;
    return first.tr.getBoundingClientRect().top < this.stickyTop() - 1;
  }

  /**
   * Adds records (oldest first, as the stream sends them) at the top, and
   * marker rows for { marker: 'text' } entries among them.
   */
  prepend(entries) {
    if (!entries.length) return;
    const anchored = this.reading();
    const anchor = anchored ? this.anchorRow() : null;
    const anchorTop = anchor ? anchor.tr.getBoundingClientRect().top : 0;

    // Only the newest maxRows can stay; build just those.
    const fresh = [];
    let added = 0;
    for (let i = entries.length - 1; i >= 0 && fresh.length < this.maxRows; i--) {
      const row = entries[i].marker !== undefined ? this.makeMarker(entries[i].marker) : this.makeRow(entries[i]);
      fresh.push(row);
      if (row.rec && !row.tr.hidden) added++;
    }
    const fragment = document.createDocumentFragment();
    for (const row of fresh) fragment.append(row.tr);
    this.tbody.prepend(fragment);
    this.rows = fresh.concat(this.rows);
    this.trim();

    if (anchor && anchor.tr.isConnected) {
      const delta = anchor.tr.getBoundingClientRect().top - anchorTop;
      if (delta) window.scrollBy(0, delta);
      this.newAbove += added;
    } else if (anchor) {
      this.newAbove += added;
    }
    this.ensureTabStop();
    this.count();
  }

  /** Adds a row saying something about the records around it (a gap, a restart). */
  mark(text) {
    this.prepend([{ marker: text }]);
  }

  clear() {
    this.tbody.replaceChildren();
    this.rows = [];
    this.newAbove = 0;
    this.count();
  }

  /** Hides the rows that do not match the search box's text. */
  setQuery(query) {
    this.query = query.trim();
    for (const row of this.rows) if (row.rec) row.tr.hidden = !this.visible(row.summary);
    this.ensureTabStop();
    this.count();
  }

  /** The number of new rows above is read: they have been scrolled to. */
  seen() {
    if (this.newAbove) {
      this.newAbove = 0;
      this.onChange();
    }
  }

  /** The row holding the record with this Seq, for tests and the detail view. */
  find(seq) {
    return this.rows.find((r) => r.rec && r.rec.Seq === seq) ?? null;
  }

  visible(summary) {
    return !this.query || matches(summary, this.query);
  }

  makeRow(rec) {
    const s = summarize(rec);
    const tr = rowTemplate().cloneNode(true);
    tr.className = `record ${s.action === 'blocked' ? 'blocked' : 'allowed'}${s.error ? ' has-error' : ''}`;
    tr.dataset.seq = String(rec.Seq ?? '');
    tr.record = rec;
    const [time, proto, prefix, action, src, dst, ifaces, domain, host] = tr.cells;
    host.textContent = s.host;

    time.firstChild.dateTime = s.timestamp;
    time.firstChild.title = s.timestamp;
    time.firstChild.textContent = s.time;

    proto.firstChild.textContent = s.proto;
    if (s.protoDetail) proto.append(span('sub', s.protoDetail));
    if (s.error) {
      const warn = span('warn', '⚠');
      warn.title = s.error;
      warn.setAttribute('aria-label', `decode error: ${s.error}`);
      proto.append(warn);
    }

    prefix.textContent = s.prefix;

    const badge = action.firstChild;
    badge.className = `badge ${s.action === 'blocked' ? 'blocked' : 'allowed'}`;
    badge.firstChild.textContent = s.action === 'blocked' ? '✕' : '✓';
    badge.append(s.action || '?');

    src.textContent = s.src || '—';
    src.title = s.domainSrc ? `${s.src} (${s.domainSrc})` : s.src;
    dst.textContent = s.dst || '—';
    dst.title = s.domainDst ? `${s.dst} (${s.domainDst})` : s.dst;

    if (s.inDev || s.outDev) {
      const [inDev, , outDev] = ifaces.children;
      inDev.textContent = s.inDev || '·';
      if (!s.inDev) inDev.className = 'dev none';
      outDev.textContent = s.outDev || '·';
      if (!s.outDev) outDev.className = 'dev none';
    } else {
      ifaces.replaceChildren(span('dev none', '—'));
    }

    const text = s.domainSrc && s.domainDst && s.domainSrc !== s.domainDst ? `${s.domainSrc} → ${s.domainDst}` : s.domain;
    if (text) {
      const name = domain.firstChild;
      if (s.question && !s.domainDst && !s.domainSrc) name.className = 'question';
      name.textContent = text;
      name.title = text;
    }
    tr.hidden = !this.visible(s);
    return { rec, summary: s, tr };
  }

  makeMarker(text) {
    const tr = document.createElement('tr');
    tr.className = 'marker';
    const td = document.createElement('td');
    td.colSpan = 9;
    td.textContent = text;
    tr.append(td);
    return { marker: text, tr };
  }

  trim() {
    let records = 0;
    let keep = this.rows.length;
    for (let i = 0; i < this.rows.length; i++) {
      if (this.rows[i].rec && ++records > this.maxRows) {
        keep = i;
        break;
      }
    }
    if (keep === this.rows.length) return;
    for (const row of this.rows.splice(keep)) row.tr.remove();
    // A marker left at the bottom marks nothing below it.
    while (this.rows.length && !this.rows[this.rows.length - 1].rec) this.rows.pop().tr.remove();
  }

  count() {
    let shown = 0;
    let records = 0;
    for (const row of this.rows) {
      if (!row.rec) continue;
      records++;
      if (!row.tr.hidden) shown++;
    }
    this.shown = shown;
    this.records = records;
    this.onChange();
  }

  firstVisible() {
    return this.rows.find((r) => r.rec && !r.tr.hidden) ?? null;
  }

  /** The first row (from the top) that is at least partly below the sticky header. */
  anchorRow() {
    const top = this.stickyTop();
    for (const row of this.rows) {
      if (row.tr.hidden) continue;
      if (row.tr.getBoundingClientRect().bottom > top) return row;
    }
    return null;
  }

  setTabStop(tr) {
    if (this.tabStop === tr) return;
    if (this.tabStop) this.tabStop.tabIndex = -1;
    this.tabStop = tr;
    tr.tabIndex = 0;
  }

  ensureTabStop() {
    if (this.tabStop && this.tabStop.isConnected && !this.tabStop.hidden) return;
    const first = this.firstVisible();
    if (first) this.setTabStop(first.tr);
    else this.tabStop = null;
  }

  keydown(e) {
    const tr = e.target.closest('tr.record');
    if (!tr) return;
    const visible = this.rows.filter((r) => r.rec && !r.tr.hidden).map((r) => r.tr);
    const at = visible.indexOf(tr);
    let next = null;
    switch (e.key) {
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.onOpen(tr.record, tr);
        return;
      case 'ArrowDown':
        next = visible[at + 1];
        break;
      case 'ArrowUp':
        next = visible[at - 1];
        break;
      case 'PageDown':
        next = visible[Math.min(at + 10, visible.length - 1)];
        break;
      case 'PageUp':
        next = visible[Math.max(at - 10, 0)];
        break;
      case 'Home':
        next = visible[0];
        break;
      case 'End':
        next = visible[visible.length - 1];
        break;
      default:
        return;
    }
    e.preventDefault();
    if (next) {
      this.setTabStop(next);
      next.focus();
      next.scrollIntoView({ block: 'nearest' });
    }
  }
}

function span(className, text) {
  const el = document.createElement('span');
  if (className) el.className = className;
  el.textContent = text;
  return el;
}

// Rows are clones of one row built once: much cheaper than building each
// element anew when the stream brings thousands a second. The template
// holds no record data; records go in as text only.
let template = null;

function rowTemplate() {
  if (template) return template;
  template = document.createElement('tr');
  template.tabIndex = -1;
  const cell = (className, ...children) => {
    const td = document.createElement('td');
    td.className = className;
    td.append(...children);
    template.append(td);
  };
  const time = document.createElement('time');
  const icon = span('icon', '');
  icon.setAttribute('aria-hidden', 'true');
  const badge = span('badge', '');
  badge.append(icon);
  const arrow = span('arrow', '→');
  arrow.setAttribute('aria-label', 'to');
  cell('time', time);
  cell('proto', span('proto-name', ''));
  cell('prefix');
  cell('action', badge);
  cell('addr src');
  cell('addr dst');
  cell('ifaces', span('dev', ''), arrow, span('dev', ''));
  cell('domain', span('', ''));
  cell('host'); // shown over a fleet only (the table's class "fleet")
  return template;
}
