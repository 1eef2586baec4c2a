import { describe, expect, it } from "vitest";
import { embeddedIpv4, literalHost, refusedAddress } from "./address";

const LINK_LOCAL = "a link-local, metadata, unspecified, multicast or reserved address";
const PRIVATE = "a loopback or private address (WEBHOOK_PRIVATE_ADDRESSES=deny)";

describe("webhook target addresses", () => {
  it("refuses link-local, unspecified, multicast and reserved addresses always", () => {
    for (const ip of ["169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "fe80::1", "ff02::1", "::ffff:169.254.169.254"]) {
      expect([ip, refusedAddress(ip, true)]).toEqual([ip, LINK_LOCAL]);
    }
  });

  it("issue #14 break test: refuses other clouds' metadata addresses and the special-purpose ranges always, site-local when denying private", () => {
    for (const ip of ["fd00:ec2::254", "100.100.100.200", "192.0.0.192", "192.0.0.8", "198.18.0.1", "198.19.255.254", "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "100::1", "::ffff:100.100.100.200"]) {
      expect([ip, refusedAddress(ip, true)]).toEqual([ip, LINK_LOCAL]);
    }
    expect(refusedAddress("fec0::1", true)).toBeNull();
    expect(refusedAddress("fec0::1", false)).toBe(PRIVATE);
    expect(refusedAddress("100.100.100.201", true)).toBeNull(); // the rest of carrier-grade NAT stays private, not refused
  });

  it("judges an IPv6 address by the IPv4 address it carries (mapped, translated, NAT64, compatible, 6to4, Teredo)", () => {
    // The #14 break test's two: the metadata address in IPv4-translated and NAT64 form.
    for (const ip of ["::ffff:0:a9fe:a9fe", "64:ff9b::a9fe:a9fe", "64:ff9b::169.254.169.254", "::ffff:a9fe:a9fe", "::169.254.169.254", "2002:a9fe:a9fe::1", "2001:0:a9fe:a9fe::1", "2001::5601:5601"]) {
      expect([ip, refusedAddress(ip, true)]).toEqual([ip, LINK_LOCAL]);
    }
    expect(embeddedIpv4("64:ff9b::a9fe:a9fe")).toEqual(["169.254.169.254"]);
    expect(embeddedIpv4("2001:0:102:304::fefe:fefe")).toEqual(["1.2.3.4", "1.1.1.1"]);
    expect(embeddedIpv4("2606:4700::1111")).toEqual([]);
    expect(refusedAddress("64:ff9b::a00:1", false)).toBe(PRIVATE);
    expect(refusedAddress("64:ff9b::808:808", false)).toBeNull();
  });

  it("reads 64:ff9b:1::/48 as RFC 6052 lays out a /48: the IPv4 address in bytes 6, 7, 9, 10 around the u octet", () => {
    // 169.254.169.254 = a9fe:a9fe → bytes 6–7 a9fe, byte 8 (u) 0, bytes 9–10 a9fe: 64:ff9b:1:a9fe:a9:fe00::
    expect(embeddedIpv4("64:ff9b:1:a9fe:a9:fe00::")).toContain("169.254.169.254");
    expect(refusedAddress("64:ff9b:1:a9fe:a9:fe00::", true)).toBe(LINK_LOCAL);
    // The same prefix used as a /96 still carries the address in its last four bytes.
    expect(refusedAddress("64:ff9b:1::a9fe:a9fe", true)).toBe(LINK_LOCAL);
  });

  it("allows loopback and private ranges unless told to deny them", () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "::1", "fd00::1", "::ffff:10.0.0.1"]) {
      expect([ip, refusedAddress(ip, true)]).toEqual([ip, null]);
      expect([ip, refusedAddress(ip, false)]).toEqual([ip, PRIVATE]);
    }
  });

  it("allows public addresses either way", () => {
    for (const ip of ["93.184.216.34", "172.32.0.1", "2606:4700::1111", "8.8.8.8"]) {
      expect([ip, refusedAddress(ip, false)]).toEqual([ip, null]);
    }
    expect(refusedAddress("example.com", true)).toBe("not an IP address");
  });

  it("reads literal hosts out of URLs, brackets removed", () => {
    expect(literalHost(new URL("http://[::1]:3000/x"))).toBe("::1");
    expect(literalHost(new URL("http://127.0.0.1/x"))).toBe("127.0.0.1");
    expect(literalHost(new URL("http://hooks.example.com/x"))).toBeNull();
  });
});
