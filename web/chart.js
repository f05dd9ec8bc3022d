// chart.js: packets per second per prefix over the last minutes, drawn on a
// canvas with an HTML legend beside it. The rates come from the counts of
// GET /packet_logs/prefixes (every record since the server started, whatever
// the table shows, paused or filtered): the difference between two polls
// divided by the time between them. A count that went down means the server
// restarted; that poll only sets a new baseline.

const ALLOWED_COLORS = ['#2f7fe0', '#1f9d63', '#7c5cd6', '#0a95a8', '#5b6b8a', '#8aa21a'];
const BLOCKED_COLORS = ['#e0393e', '#e7700d', '#c93d97', '#a9714a', '#c0506b', '#b3a000'];

export class RateChart {
  /**
   * canvas: where to draw; legend: a <ul> the chart fills with one item per
   * prefix; windowMs: how much time the x axis spans.
   */
  constructor(canvas, legend, { windowMs = 5 * 60 * 1000 } = {}) {
    this.canvas = canvas;
    this.legend = legend;
    this.windowMs = windowMs;
    this.samples = []; // { t, rates: Map(prefix -> packets per second) }
    this.series = new Map(); // prefix -> { color, blocked }
    this.last = null; // { t, counts: Map(prefix -> count) }
    this.startedAt = null; // the first poll: the x axis spans from there until it spans windowMs
    this.allowedUsed = 0;
    this.blockedUsed = 0;
    if (typeof ResizeObserver === 'function') {
      new ResizeObserver(() => this.draw()).observe(canvas);
    }
    if (typeof matchMedia === 'function') {
      matchMedia('(prefers-color-scheme: dark)').addEventListener?.('change', () => this.draw());
    }
  }

  /** Forgets the baseline (the next poll only sets one): the server restarted. */
  reset() {
    this.last = null;
  }

  /** Takes one poll of /packet_logs/prefixes made at time t (ms). */
  add(t, prefixes) {
    this.startedAt ??= t;
    const counts = new Map();
    for (const p of prefixes) {
      const name = String(p.Prefix).trim() || '(none)';
      counts.set(name, (counts.get(name) ?? 0) + Number(p.Count));
      if (!this.series.has(name)) this.addSeries(name, p.Action === 'blocked');
    }
    const last = this.last;
    this.last = { t, counts };
    if (!last || t <= last.t) return;
    for (const [name, count] of last.counts) {
      if ((counts.get(name) ?? 0) < count) return; // restarted: new baseline only
    }
    const seconds = (t - last.t) / 1000;
    const rates = new Map();
    for (const [name, count] of counts) rates.set(name, (count - (last.counts.get(name) ?? 0)) / seconds);
    this.samples.push({ t, rates, since: last.t });
    while (this.samples.length && this.samples[0].t < t - this.windowMs - 60000) this.samples.shift();
  }

  addSeries(name, blocked) {
    const palette = blocked ? BLOCKED_COLORS : ALLOWED_COLORS;
    const index = blocked ? this.blockedUsed++ : this.allowedUsed++;
    this.series.set(name, { color: palette[index % palette.length], blocked });
  }

  /** The newest rate of each prefix (0 when none yet). */
  current() {
    const newest = this.samples[this.samples.length - 1];
    const out = new Map();
    for (const name of this.series.keys()) out.set(name, newest?.rates.get(name) ?? 0);
    return out;
  }

  /** Redraws the canvas and the legend at time now (ms). */
  draw(now = Date.now()) {
    this.drawLegend();
    const canvas = this.canvas;
    const cssWidth = canvas.clientWidth;
    const cssHeight = canvas.clientHeight;
    if (!cssWidth || !cssHeight) return;
    const ratio = globalThis.devicePixelRatio || 1;
    const width = Math.round(cssWidth * ratio);
    const height = Math.round(cssHeight * ratio);
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssWidth, cssHeight);

    const style = getComputedStyle(canvas);
    const text = style.getPropertyValue('--chart-text').trim() || '#666';
    const grid = style.getPropertyValue('--chart-grid').trim() || '#ddd';
    const font = `11px ${style.fontFamily || 'sans-serif'}`;

    // The axis spans the time since the page opened, at least a minute,
    // at most windowMs: the chart fills its width from the start.
    const span = Math.min(this.windowMs, Math.max(60000, now - (this.startedAt ?? now)));
    const start = now - span;
    const visible = this.samples.filter((s) => s.t >= start - 5000);
    let max = 0;
    for (const s of visible) for (const r of s.rates.values()) max = Math.max(max, r);
    const top = niceCeiling(max);

    const left = 40;
    const right = 8;
    const upper = 8;
    const bottom = 18;
    const plotW = cssWidth - left - right;
    const plotH = cssHeight - upper - bottom;
    const x = (t) => left + ((t - start) / span) * plotW;
    const y = (v) => upper + plotH - (v / top) * plotH;

    ctx.font = font;
    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = text;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, yy);
      ctx.lineTo(left + plotW, yy);
      ctx.stroke();
      ctx.fillText(formatRate(v), left - 6, yy);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    // As many time labels as fit, about one per 60 px.
    const labels = Math.max(2, Math.min(6, Math.floor(plotW / 60)));
    const step = ([10, 15, 20, 30, 60, 120, 300].find((sec) => span / (sec * 1000) <= labels) ?? 300) * 1000;
    for (let ago = 0; ago <= span + 1; ago += step) {
      const label = ago === 0 ? 'now' : ago % 60000 ? `−${ago / 1000} s` : `−${ago / 60000} min`;
      const xx = x(now - ago);
      ctx.fillText(label, Math.min(Math.max(xx, left + 18), left + plotW - 12), upper + plotH + 4);
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, upper - 2, plotW, plotH + 4);
    ctx.clip();
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    for (const [name, series] of this.series) {
      // A gap in the polls (server down, tab asleep) breaks the line.
      const segments = [];
      let segment = null;
      let lastT = null;
      for (const s of visible) {
        const rate = s.rates.get(name);
        if (rate === undefined || s.t - s.since > 10000 || (lastT !== null && s.since - lastT > 1000)) segment = null;
        if (rate !== undefined) {
          if (!segment) segments.push((segment = []));
          segment.push([x(s.t), y(rate)]);
        }
        lastT = s.t;
      }
      ctx.strokeStyle = series.color;
      ctx.fillStyle = series.color;
      ctx.setLineDash(series.blocked ? [6, 3] : []);
      for (const points of segments) {
        if (points.length === 1) {
          ctx.beginPath();
          ctx.arc(points[0][0], points[0][1], 2, 0, 2 * Math.PI);
          ctx.fill();
          continue;
        }
        ctx.beginPath();
        points.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
        ctx.stroke();
      }
    }
    ctx.restore();
    canvas.setAttribute('aria-label', this.describe());
  }

  /** The chart in words, for screen readers (the canvas's label). */
  describe() {
    const rates = [...this.current()].map(([name, r]) => `${name} ${formatRate(r)} per second`);
    return `Packets per second over the last ${Math.round(this.windowMs / 60000)} minutes` +
      (rates.length ? `; now: ${rates.join(', ')}` : '; no records yet');
  }

  drawLegend() {
    const legend = this.legend;
    if (!legend) return;
    const rates = this.current();
    for (const [name, series] of this.series) {
      let item = legend.querySelector(`li[data-prefix="${cssEscape(name)}"]`);
      if (!item) {
        item = document.createElement('li');
        item.dataset.prefix = name;
        const swatch = document.createElement('span');
        swatch.className = series.blocked ? 'swatch dashed' : 'swatch';
        swatch.style.setProperty('--swatch', series.color);
        const label = document.createElement('span');
        label.className = 'name';
        label.textContent = name;
        const rate = document.createElement('span');
        rate.className = 'rate';
        item.append(swatch, label, rate);
        legend.append(item);
      }
      item.querySelector('.rate').textContent = `${formatRate(rates.get(name) ?? 0)}/s`;
    }
  }
}

/** The top of an axis of 4 steps over v: round steps (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten, whole numbers), at least 1. */
export function niceCeiling(v) {
  const raw = Math.max(v, 0) / 4;
  if (!(raw > 1)) return 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].filter((s) => Number.isInteger(s * power));
  return 4 * steps.find((s) => s * power >= raw) * power;
}

/** 0, 0.5, 12, 1.2k, 34k: a rate short enough for an axis. */
export function formatRate(v) {
  if (v >= 10000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  if (v >= 10 || v === 0) return String(Math.round(v));
  return v.toFixed(1).replace(/\.0$/, '');
}

function cssEscape(s) {
  return globalThis.CSS?.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&');
}
