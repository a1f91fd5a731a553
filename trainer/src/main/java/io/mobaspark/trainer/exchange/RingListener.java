package io.mobaspark.trainer.exchange;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * A ring rank's listening sockets, opened before the rendezvous so that their addresses can be
 * shared, and kept only until the left neighbour has connected: a TCP port, and a
 * {@link LocalListener} that a left neighbour on the same host uses instead ({@link PeerAddress}).
 * Connections that fail the handshake (a wrong secret, another rank, a stray client) are refused,
 * logged and listed, and the wait goes on.
 */
final class RingListener implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(RingListener.class.getName());

  private final ServerSocketChannel tcp;
  /** Null where no local socket could be made. */
  private final LocalListener local;
  private final PeerAddress address;
  /** Waits on both sockets; closing it stops a wait at once. */
  private final Selector selector;
  private final List<String> refusals = new ArrayList<>();

  private RingListener(ServerSocketChannel tcp, LocalListener local, PeerAddress address)
      throws IOException {
    this.tcp = tcp;
    this.local = local;
    this.address = address;
    this.selector = Selector.open();
    for (ServerSocketChannel server : local == null ? List.of(tcp)
        : List.of(tcp, local.server())) {
      server.configureBlocking(false);
      server.register(selector, SelectionKey.OP_ACCEPT);
    }
  }

  /** Listens on an ephemeral port of {@code host}, the address the other ranks reach this one at. */
  static RingListener bind(String host) {
    ServerSocketChannel tcp;
    String hostPort;
    try {
      tcp = PeerChannel.listen(host, 0);
      int port = ((InetSocketAddress) tcp.getLocalAddress()).getPort();
      hostPort = host.contains(":") && !host.startsWith("[") ? "[" + host + "]:" + port
          : host + ":" + port;
    } catch (IOException e) {
      throw new ExchangeException("cannot listen on " + host + " for the ring: " + e, e);
    }
    LocalListener local = LocalListener.open("ring listener " + hostPort);
    try {
      return new RingListener(tcp, local,
          new PeerAddress(hostPort, local == null ? null : local.path()));
    } catch (IOException e) {
      PeerChannel.closeQuietly(tcp);
      if (local != null) {
        local.close();
      }
      throw new ExchangeException("cannot listen on " + host + " for the ring: " + e, e);
    }
  }

  /** What to give the other ranks in the rendezvous. */
  String address() {
    return address.format();
  }

  /** This rank's TCP {@code host:port}. */
  String hostPort() {
    return address.hostPort();
  }

  /** The host the other ranks reach this one at. */
  String host() {
    return PeerAddress.host(address.hostPort());
  }

  /** The refusals so far, oldest first. */
  synchronized List<String> refusals() {
    return List.copyOf(refusals);
  }

  /**
   * Accepts, on either socket, until rank {@code left} connects and authenticates, within the
   * spec's timeout.
   *
   * @throws ExchangeException naming the left neighbour, and the refusals, when it does not
   */
  PeerChannel acceptLeft(ExchangeSpec spec, int rank, int left) {
    String self = "rank " + rank;
    long deadline = System.nanoTime() + spec.timeoutMillis() * 1_000_000L;
    try {
      while (true) {
        long remainingMillis = (deadline - System.nanoTime()) / 1_000_000L;
        if (remainingMillis < 1) {
          throw new ExchangeException(self + ": its left neighbour rank " + left
              + " did not connect and authenticate at " + address.format() + " within "
              + spec.timeoutMillis() + " ms" + (refusals().isEmpty() ? ""
              : "; refused meanwhile: " + refusals()));
        }
        selector.select(remainingMillis);
        for (SelectionKey key : selector.selectedKeys()) {
          SocketChannel socket = ((ServerSocketChannel) key.channel()).accept();
          PeerChannel channel = socket == null ? null
              : admit(socket, key.channel() == tcp, spec, rank, left);
          if (channel != null) {
            return channel;
          }
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException | ClosedSelectorException e) {
      throw new ExchangeException(self + ": accepting at " + address.format() + " failed: " + e,
          e);
    }
  }

  /** The left neighbour's channel, or null when {@code socket} was refused. */
  private PeerChannel admit(SocketChannel socket, boolean overTcp, ExchangeSpec spec, int rank,
      int left) {
    String self = "rank " + rank;
    try {
      String from = overTcp ? HostPort.format((InetSocketAddress) socket.getRemoteAddress())
          : "the local socket on " + host();
      PeerChannel channel = PeerChannel.accepted(socket, from, self, spec);
      Handshake.server(channel, spec, rank, left);
      return channel;
    } catch (ExchangeException e) {
      refuse(e.getMessage());
    } catch (IOException e) {
      PeerChannel.closeQuietly(socket);
      refuse(self + ": cannot set up a connection: " + e);
    }
    return null;
  }

  private synchronized void refuse(String reason) {
    LOG.log(System.Logger.Level.WARNING, reason);
    refusals.add(reason);
  }

  /** Closes both sockets (and removes the local one); accepted channels stay open. */
  @Override
  public void close() {
    PeerChannel.closeQuietly(selector);
    PeerChannel.closeQuietly(tcp);
    if (local != null) {
      local.close();
    }
  }
}
