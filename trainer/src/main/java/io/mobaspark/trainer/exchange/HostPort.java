package io.mobaspark.trainer.exchange;

import java.net.InetSocketAddress;

/** Parses {@code host:port} (IPv6 hosts in brackets: {@code [::1]:7077}). */
final class HostPort {
  private HostPort() {}

  static InetSocketAddress parse(String name, String address) {
    int colon = address == null ? -1 : address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException(name + " must be host:port, got '" + address + "'");
    }
    String host = address.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " has a port that is not a number: '" + address
          + "'");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(name + " has port " + port + " outside 1..65535: '"
          + address + "'");
    }
    return InetSocketAddress.createUnresolved(host, port);
  }

  /** {@code host:port} of a bound or connected address, brackets around IPv6 hosts. */
  static String format(InetSocketAddress address) {
    String host = address.getAddress() != null ? address.getAddress().getHostAddress()
        : address.getHostString();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
  }
}
