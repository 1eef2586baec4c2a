import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP } from "node:net";

// Where webhooks may go (server-side request forgery). A self-hosted console's receivers usually
// live on the company network (chat, incident tools, an internal relay), so loopback and private
// addresses are allowed by default; WEBHOOK_PRIVATE_ADDRESSES=deny refuses them. Link-local
// (cloud metadata at 169.254.169.254), the other clouds' metadata addresses, unspecified, multicast,
// documentation, benchmarking and reserved addresses are refused always: no receiver lives there. The check runs on the address actually connected to (the
// resolver's answer at delivery time), so a name that later resolves elsewhere is checked again.

const always = new BlockList();
always.addSubnet("0.0.0.0", 8, "ipv4");
always.addSubnet("169.254.0.0", 16, "ipv4");
always.addSubnet("224.0.0.0", 4, "ipv4"); // multicast
always.addSubnet("240.0.0.0", 4, "ipv4"); // reserved, broadcast
always.addAddress("::", "ipv6");
always.addSubnet("fe80::", 10, "ipv6");
always.addSubnet("ff00::", 8, "ipv6");
// Cloud metadata services outside 169.254/16: AWS's IPv6 IMDS, Alibaba Cloud's (inside the
// carrier-grade NAT range, which is otherwise private) and Oracle Cloud's.
always.addAddress("fd00:ec2::254", "ipv6");
always.addAddress("100.100.100.200", "ipv4");
always.addAddress("192.0.0.192", "ipv4");
// IANA special-purpose ranges no receiver lives on (RFC 6890): IETF protocol assignments,
// documentation (TEST-NET-1/2/3, 2001:db8::/32), benchmarking, discard-only.
always.addSubnet("192.0.0.0", 24, "ipv4");
always.addSubnet("192.0.2.0", 24, "ipv4");
always.addSubnet("198.51.100.0", 24, "ipv4");
always.addSubnet("203.0.113.0", 24, "ipv4");
always.addSubnet("198.18.0.0", 15, "ipv4");
always.addSubnet("2001:db8::", 32, "ipv6");
always.addSubnet("100::", 64, "ipv6");

const internal = new BlockList();
internal.addSubnet("127.0.0.0", 8, "ipv4");
internal.addSubnet("10.0.0.0", 8, "ipv4");
internal.addSubnet("172.16.0.0", 12, "ipv4");
internal.addSubnet("192.168.0.0", 16, "ipv4");
internal.addSubnet("100.64.0.0", 10, "ipv4"); // carrier-grade NAT
internal.addAddress("::1", "ipv6");
internal.addSubnet("fc00::", 7, "ipv6");
internal.addSubnet("fec0::", 10, "ipv6"); // site-local (deprecated, still routed inside some networks)

/** The 16 bytes of an IPv6 literal (dotted IPv4 tail allowed), or null when it is not one. */
function ipv6Bytes(address: string): Uint8Array | null {
  if (isIP(address) !== 6) return null;
  let text = address.replace(/%.*$/, "");
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parts = (x: string) => (x ? x.split(":") : []);
  const left = parts(head);
  const right = tail === undefined ? [] : parts(tail);
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    bytes[2 * i] = v >> 8;
    bytes[2 * i + 1] = v & 0xff;
  });
  return bytes;
}

const dottedQuad = (b: Uint8Array, at: number, xor = 0) => [0, 1, 2, 3].map((i) => (b[at + i]! ^ xor) & 0xff).join(".");
const startsWith = (b: Uint8Array, prefix: number[]) => prefix.every((v, i) => b[i] === v);

/**
 * The IPv4 addresses an IPv6 address carries, which a router may deliver to: IPv4-mapped
 * (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96, RFC 2765), the NAT64 prefixes 64:ff9b::/96 and
 * 64:ff9b:1::/48 (RFC 6052, RFC 8215), IPv4-compatible (::/96, deprecated), 6to4 (2002::/16, RFC
 * 3056) and Teredo (2001::/32, RFC 4380: server, and the client XOR-obfuscated).
 */
export function embeddedIpv4(address: string): string[] {
  const b = ipv6Bytes(address);
  if (!b) return [];
  const zeros = (n: number) => Array<number>(n).fill(0);
  if (startsWith(b, [...zeros(10), 0xff, 0xff])) return [dottedQuad(b, 12)];
  if (startsWith(b, [...zeros(8), 0xff, 0xff, 0, 0])) return [dottedQuad(b, 12)];
  if (startsWith(b, [0, 0x64, 0xff, 0x9b, ...zeros(8)])) return [dottedQuad(b, 12)];
  // 64:ff9b:1::/48 may be used with any RFC 6052 prefix length: as /48 the IPv4 address is in bytes 6, 7, 9, 10
  // (byte 8 is the reserved u octet, §2.2); as /96 in bytes 12–15. Judge both.
  if (startsWith(b, [0, 0x64, 0xff, 0x9b, 0, 1])) return [dottedQuad(b, 12), [b[6]!, b[7]!, b[9]!, b[10]!].join(".")];
  if (startsWith(b, zeros(12)) && (b[12]! | b[13]!) !== 0) return [dottedQuad(b, 12)];
  if (startsWith(b, [0x20, 0x02])) return [dottedQuad(b, 2)];
  if (startsWith(b, [0x20, 0x01, 0, 0])) return [dottedQuad(b, 4), dottedQuad(b, 12, 0xff)];
  return [];
}

/**
 * What kind of address `address` (an IPv4 or IPv6 literal) is when a webhook may not be sent
 * there ("a link-local, … address"), or null when it may. An IPv6 address that carries an IPv4
 * address (mapped, translated, NAT64, 6to4, Teredo: embeddedIpv4) is judged as each of them too.
 */
export function refusedAddress(address: string, allowPrivate: boolean): string | null {
  const version = isIP(address);
  if (version === 0) return "not an IP address";
  for (const ip of [address, ...embeddedIpv4(address)]) {
    const family = isIP(ip) === 6 ? "ipv6" : "ipv4";
    if (always.check(ip, family)) return "a link-local, metadata, unspecified, multicast or reserved address";
    if (!allowPrivate && internal.check(ip, family)) return "a loopback or private address (WEBHOOK_PRIVATE_ADDRESSES=deny)";
  }
  return null;
}

/** The host of a URL as an address literal, without IPv6 brackets, or null for a name. */
export function literalHost(url: URL): string | null {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return isIP(host) ? host : null;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:http(s) that resolves as usual and fails with EADDRNOTALLOWED when an answer
 * is refused by refusedAddress. Node skips `lookup` for literal IPs: check those with literalHost.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, answers) => {
      if (error) return callback(error, []);
      for (const answer of answers) {
        const why = refusedAddress(answer.address, allowPrivate);
        if (why) return callback(Object.assign(new Error(`${hostname} resolves to ${answer.address}, ${why}`), { code: "EADDRNOTALLOWED" }), []);
      }
      if (options.all) return callback(null, answers);
      callback(null, answers[0]!.address, answers[0]!.family);
    });
  };
}
