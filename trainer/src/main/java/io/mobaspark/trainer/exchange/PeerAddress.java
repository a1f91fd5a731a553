package io.mobaspark.trainer.exchange;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a listener of the exchange (a ring rank, the driver aggregator) is reached: its TCP
 * {@code host:port}, and, where it could open one, the path of a Unix-domain socket that a peer on
 * the same host connects to instead (docs/exchange.md, "Peers on the same host"). As text:
 * {@code host:port}, or {@code host:port local=/path} (a path may hold spaces, so it comes last).
 *
 * @param hostPort where the listener accepts TCP connections
 * @param local    its local socket, or null
 */
record PeerAddress(String hostPort, Path local) {
  private static final String LOCAL = " local=";

  /** @throws IllegalArgumentException naming {@code name} when the text is no such address */
  static PeerAddress parse(String name, String text) {
    int at = text == null ? -1 : text.indexOf(LOCAL);
    String hostPort = at < 0 ? text : text.substring(0, at);
    HostPort.parse(name, hostPort);
    return new PeerAddress(hostPort, at < 0 ? null : Path.of(text.substring(at + LOCAL.length())));
  }

  /** The text form, as {@link #parse} reads it. */
  String format() {
    return local == null ? hostPort : hostPort + LOCAL + local;
  }

  /**
   * Whether a peer on {@code host} connects through the local socket: the same host by name, and
   * the socket visible (executors in separate containers of one machine may not share a temp
   * folder; they use TCP).
   */
  boolean localFrom(String host) {
    return local != null && host(hostPort).equals(host) && Files.exists(local);
  }

  /** The host of a {@code host:port} (brackets of an IPv6 host kept). */
  static String host(String hostPort) {
    return hostPort.substring(0, hostPort.lastIndexOf(':'));
  }
}
