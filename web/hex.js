// hex.js: the bytes of a record's IP packet and their hex + ASCII dump.
// A record carries each layer's raw bytes as base64 (Contents: the header,
// Payload: what follows it); the IPv4 or IPv6 layer's two together are the
// whole packet as the kernel logged it. Pure functions, no DOM.

/** Bytes of a base64 string; an empty array for "", null or bad input. */
export function base64Bytes(b64) {
  if (typeof b64 !== 'string' || b64 === '') return new Uint8Array(0);
  let bin;
  try {
    bin = atob(b64);
  } catch {
    return new Uint8Array(0);
  }
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * The IP packet of a record: { layer: 'IPv4' | 'IPv6', bytes, headerLength }
 * (headerLength: how many of the bytes are the IP header), or null when the
 * record has no IP layer (a packet that could not be decoded at all).
 */
export function ipPacket(rec) {
  const key = rec.IP ? 'IP' : rec.IPv6 ? 'IPv6' : null;
  if (!key) return null;
  const header = base64Bytes(rec[key].Contents);
  const payload = base64Bytes(rec[key].Payload);
  const bytes = new Uint8Array(header.length + payload.length);
  bytes.set(header, 0);
  bytes.set(payload, header.length);
  return { layer: key === 'IP' ? 'IPv4' : 'IPv6', bytes, headerLength: header.length };
}

/**
 * The dump as lines of 16 bytes: { offset: '0000', hex: [16 strings, '' past
 * the end], ascii: '....' } with unprintable bytes shown as '.'.
 */
export function hexLines(bytes, width = 16) {
  const lines = [];
  for (let start = 0; start < bytes.length; start += width) {
    const hex = [];
    let ascii = '';
    for (let i = start; i < start + width; i++) {
      if (i < bytes.length) {
        const b = bytes[i];
        hex.push(b.toString(16).padStart(2, '0'));
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      } else {
        hex.push('');
      }
    }
    lines.push({ offset: start.toString(16).padStart(4, '0'), hex, ascii });
  }
  return lines;
}

/** The classic text dump: "0000  45 00 00 23 ...  E..#" one line per 16 bytes. */
export function hexDump(bytes, width = 16) {
  return hexLines(bytes, width)
    .map((l) => {
      const hex = l.hex.map((h) => (h === '' ? '  ' : h));
      const half = width / 2;
      return `${l.offset}  ${hex.slice(0, half).join(' ')}  ${hex.slice(half).join(' ')}  ${l.ascii}`;
    })
    .join('\n');
}
