// record.js: what the dashboard shows of one packet_logs record (DESIGN.md
// section 2): protocol, addresses with ports, prefix, action, interfaces,
// domain, and the text the search box matches. Pure functions, no DOM: the
// browser tests also run them under node. Records come from the network
// (domains from DNS answers, prefixes from firewall rules): callers put
// these strings into the page as text, never as HTML.

/** IP protocol numbers the table names (others show as "proto N"). */
const PROTOCOLS = {
  1: 'ICMP', 2: 'IGMP', 4: 'IPIP', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 47: 'GRE',
  50: 'ESP', 51: 'AH', 58: 'ICMPv6', 88: 'EIGRP', 89: 'OSPF', 103: 'PIM',
  112: 'VRRP', 132: 'SCTP', 136: 'UDPLite',
};

const ICMP4_TYPES = {
  0: 'echo reply', 3: 'unreachable', 4: 'source quench', 5: 'redirect', 8: 'echo request',
  9: 'router advert', 10: 'router solicit', 11: 'time exceeded', 12: 'parameter problem',
  13: 'timestamp', 14: 'timestamp reply',
};

const ICMP6_TYPES = {
  1: 'unreachable', 2: 'packet too big', 3: 'time exceeded', 4: 'parameter problem',
  128: 'echo request', 129: 'echo reply', 130: 'MLD query', 131: 'MLD report',
  132: 'MLD done', 133: 'router solicit', 134: 'router advert', 135: 'neighbor solicit',
  136: 'neighbor advert', 137: 'redirect', 143: 'MLDv2 report',
};

const ICMP4_UNREACHABLE = {
  0: 'net unreachable', 1: 'host unreachable', 2: 'protocol unreachable', 3: 'port unreachable',
  4: 'fragmentation needed', 9: 'net prohibited', 10: 'host prohibited', 13: 'admin prohibited',
};

const ICMP6_UNREACHABLE = {
  0: 'no route', 1: 'admin prohibited', 3: 'address unreachable', 4: 'port unreachable',
  5: 'policy failed', 6: 'reject route',
};

const TCP_FLAGS = ['SYN', 'ACK', 'FIN', 'RST', 'PSH', 'URG'];

/** The text of a base64 field (DNS names are bytes in gopacket's JSON). */
export function base64Text(b64) {
  if (typeof b64 !== 'string' || b64 === '') return '';
  try {
    const bin = atob(b64);
    let text = '';
    for (let i = 0; i < bin.length; i++) {
      const c = bin.charCodeAt(i);
      text += c >= 0x20 && c < 0x7f ? bin[i] : '\ufffd';
    }
    return text;
  } catch {
    return '';
  }
}

/** "1.2.3.4:53", "[fd00::1]:53", or the bare address when there is no port. */
export function endpoint(ip, port) {
  if (!ip) return '';
  if (port === undefined || port === null) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The record's protocol: a short name and a detail (TCP flags, ICMP type). */
export function protocolOf(rec) {
  if (rec.TCP) {
    const flags = TCP_FLAGS.filter((f) => rec.TCP[f]);
    return { name: 'TCP', detail: flags.join(' ') };
  }
  if (rec.UDP) return { name: rec.DNS ? 'DNS' : 'UDP', detail: rec.DNS ? 'UDP' : '' };
  if (rec.ICMPv4) {
    const type = rec.ICMPv4.TypeCode >> 8;
    const code = rec.ICMPv4.TypeCode & 0xff;
    const detail = (type === 3 && ICMP4_UNREACHABLE[code]) || ICMP4_TYPES[type] || `type ${type}`;
    return { name: 'ICMP', detail };
  }
  if (rec.ICMPv6) {
    const type = rec.ICMPv6.TypeCode >> 8;
    const code = rec.ICMPv6.TypeCode & 0xff;
    const detail = (type === 1 && ICMP6_UNREACHABLE[code]) || ICMP6_TYPES[type] || `type ${type}`;
    return { name: 'ICMPv6', detail };
  }
  const number = rec.IP ? rec.IP.Protocol : rec.IPv6 ? rec.IPv6.NextHeader : undefined;
  if (number === undefined) {
    // A frame that is not IP (a bridge rule logs ARP too): its Error names the ethertype.
    const frame = /ethertype (0x[0-9a-f]{4})(?: \(([^)]+)\))?/i.exec(rec.Error ?? '');
    return frame ? { name: frame[2] ?? frame[1], detail: frame[2] ? frame[1] : '' } : { name: '?', detail: '' };
  }
  return { name: PROTOCOLS[number] ?? `proto ${number}`, detail: '' };
}

/** The first DNS question's name, or "". */
export function dnsQuestion(rec) {
  const q = rec.DNS && Array.isArray(rec.DNS.Questions) ? rec.DNS.Questions[0] : null;
  return q ? base64Text(q.Name) : '';
}

/** "12:03:04.567" in local time, from an RFC 3339 timestamp (with ns). */
export function clockTime(timestamp, timeZone) {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return String(timestamp ?? '');
  const hms = date.toLocaleTimeString('en-GB', { hour12: false, timeZone });
  const fraction = /\.(\d{1,3})/.exec(timestamp);
  return `${hms}.${(fraction ? fraction[1] : '0').padEnd(3, '0')}`;
}

/**
 * Everything a table row shows of a record, as plain strings, plus
 * `search`: the lowercased text the search box matches against.
 */
export function summarize(rec) {
  const ip = rec.IP ?? rec.IPv6 ?? null;
  const l4 = rec.TCP ?? rec.UDP ?? null;
  const proto = protocolOf(rec);
  // Without an IP layer, the hardware addresses are all there is.
  const src = ip ? endpoint(ip.SrcIP, l4?.SrcPort) : rec.Ethernet?.SrcMAC || '';
  const dst = ip ? endpoint(ip.DstIP, l4?.DstPort) : rec.Ethernet?.DstMAC || '';
  const prefix = String(rec.Prefix ?? '').trim();
  const action = rec.Action === 'blocked' ? 'blocked' : rec.Action === 'allowed' ? 'allowed' : String(rec.Action ?? '');
  const inDev = rec.InDev || '';
  const outDev = rec.OutDev || '';
  const question = dnsQuestion(rec);
  const domainDst = rec.RecentDomainDst || '';
  const domainSrc = rec.RecentDomainSrc || '';
  const domain = domainDst || domainSrc || (question ? `? ${question}` : '');
  const family = rec.IPv6 ? 'ipv6' : rec.IP ? 'ipv4' : '';
  const host = String(rec.Host ?? ''); // the router, in a view over a fleet
  const summary = {
    seq: rec.Seq,
    time: clockTime(rec.Timestamp),
    timestamp: String(rec.Timestamp ?? ''),
    proto: proto.name,
    protoDetail: proto.detail,
    family,
    src,
    dst,
    srcIp: ip?.SrcIP ?? '',
    dstIp: ip?.DstIP ?? '',
    sport: l4?.SrcPort,
    dport: l4?.DstPort,
    prefix,
    action,
    inDev,
    outDev,
    domain,
    domainSrc,
    domainDst,
    question,
    error: rec.Error || '',
    host,
  };
  summary.search = [
    proto.name, proto.detail, family, src, dst, prefix, action, inDev, outDev,
    domainSrc, domainDst, question, summary.error, host,
    l4 ? `port ${l4.SrcPort} port ${l4.DstPort}` : '',
  ].join(' ').toLowerCase();
  return summary;
}

/**
 * Whether a summary matches the search box: every word of the query must
 * occur in the row's text (addresses, ports, domains, protocol, prefix,
 * action, interfaces). A word that is a number also matches a port exactly
 * ("53"), and so does ":53".
 */
export function matches(summary, query) {
  const words = String(query).toLowerCase().split(/\s+/).filter(Boolean);
  return words.every((word) => {
    const port = /^:?(\d{1,5})$/.exec(word);
    if (port && (String(summary.sport) === port[1] || String(summary.dport) === port[1])) return true;
    return summary.search.includes(word);
  });
}
