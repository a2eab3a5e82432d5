// Which addresses the viewer listens on and which Host headers it answers: loopback unless told, and the
// DNS-rebinding check on every bind.
import net from "node:net";
import os from "node:os";

/** Whether an address (or "localhost") is this machine's loopback: 127.0.0.0/8 in any IPv4 spelling, ::1. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (net.isIP(h) === 4) return h.startsWith("127.");
  // Short IPv4 forms (127.1) are what inet_aton reads as 127.0.0.1; only digits and dots, leading 127.
  return /^127(\.\d+){0,2}$/.test(h);
}

/**
 * The Host header names a request may carry: the bound address, every loopback name when bound to loopback,
 * this machine's interface addresses when bound to every interface, and the names allowed. Checked on every
 * request whatever the address, so a page on another site cannot reach the viewer through a DNS name it
 * rebinds to this machine (its Host is its own name).
 */
export function allowedHostNames(bound: string, allowed: readonly string[] = []): Set<string> {
  const strip = (h: string): string => h.replace(/^\[|\]$/g, "").toLowerCase();
  const names = new Set<string>([strip(bound), ...allowed.map(strip)]);
  const everywhere = bound === "" || bound === "0.0.0.0" || bound === "::";
  if (isLoopback(bound) || everywhere) for (const h of ["localhost", "127.0.0.1", "::1"]) names.add(h);
  if (everywhere)
    for (const list of Object.values(os.networkInterfaces()))
      for (const a of list ?? []) names.add(strip(a.address));
  names.delete("");
  return names;
}

/** The host part of a Host header (no port; IPv6 without brackets), lower case. */
export function hostOf(header: string | undefined): string {
  const h = (header ?? "").trim().toLowerCase();
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  return v6 ? v6[1] : h.replace(/:\d+$/, "");
}
