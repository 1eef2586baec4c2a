/**
 * The URL that reaches a server listening on `host`:`port`: a wildcard address (0.0.0.0, ::) is
 * reached on loopback, and an IPv6 address goes in brackets (HOST=:: built "http://:::3452", which
 * never answered, and the start gave up on a working server after 240 s: break test).
 */
export function urlFor(host: string, port: number): string {
  const reach = host === "0.0.0.0" ? "localhost" : host === "::" ? "::1" : host;
  return `http://${reach.includes(":") ? `[${reach}]` : reach}:${port}`;
}
