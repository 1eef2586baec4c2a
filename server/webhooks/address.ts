import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { BlockList, isIP } from "node:net";

// Where webhooks may go (server-side request forgery). A self-hosted console's receivers usually
// live on the company network (chat, incident tools, an internal relay), so loopback and private
// addresses are allowed by default; WEBHOOK_PRIVATE_ADDRESSES=deny refuses them. Link-local
// (cloud metadata at 169.254.169.254), unspecified, multicast and reserved addresses are refused
// always: no receiver lives there. The check runs on the address actually connected to (the
// resolver's answer at delivery time), so a name that later resolves elsewhere is checked again.

const always = new BlockList();
always.addSubnet("0.0.0.0", 8, "ipv4");
always.addSubnet("169.254.0.0", 16, "ipv4");
always.addSubnet("224.0.0.0", 4, "ipv4"); // multicast
always.addSubnet("240.0.0.0", 4, "ipv4"); // reserved, broadcast
always.addAddress("::", "ipv6");
always.addSubnet("fe80::", 10, "ipv6");
always.addSubnet("ff00::", 8, "ipv6");

const internal = new BlockList();
internal.addSubnet("127.0.0.0", 8, "ipv4");
internal.addSubnet("10.0.0.0", 8, "ipv4");
internal.addSubnet("172.16.0.0", 12, "ipv4");
internal.addSubnet("192.168.0.0", 16, "ipv4");
internal.addSubnet("100.64.0.0", 10, "ipv4"); // carrier-grade NAT
internal.addAddress("::1", "ipv6");
internal.addSubnet("fc00::", 7, "ipv6");

/**
 * What kind of address `address` (an IPv4 or IPv6 literal) is when a webhook may not be sent
 * there ("a link-local, … address"), or null when it may. IPv4-mapped IPv6 addresses
 * (::ffff:10.0.0.1) are judged as their IPv4 address.
 */
export function refusedAddress(address: string, allowPrivate: boolean): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? mapped[1]! : address;
  const family = isIP(ip) === 6 ? "ipv6" : "ipv4";
  if (isIP(ip) === 0) return "not an IP address";
  if (always.check(ip, family)) return "a link-local, unspecified, multicast or reserved address";
  if (!allowPrivate && internal.check(ip, family)) return "a loopback or private address (WEBHOOK_PRIVATE_ADDRESSES=deny)";
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
