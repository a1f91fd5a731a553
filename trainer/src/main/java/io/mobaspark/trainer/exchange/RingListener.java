package io.mobaspark.trainer.exchange;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A ring rank's listening socket, opened before the rendezvous so that its port can be shared, and
 * kept only until the left neighbour has connected. Connections that fail the handshake (a wrong
 * secret, another rank, a stray client) are refused, logged and listed, and the wait goes on.
 */
final class RingListener implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(RingListener.class.getName());

  private final ServerSocket server;
  private final String address;
  private final List<String> refusals = new ArrayList<>();

  private RingListener(ServerSocket server, String address) {
    this.server = server;
    this.address = address;
  }

  /** Listens on an ephemeral port of {@code host}, the address the other ranks reach this one at. */
  static RingListener bind(String host) {
    try {
      ServerSocket server = PeerChannel.listen(host, 0);
      return new RingListener(server, host.contains(":") && !host.startsWith("[")
          ? "[" + host + "]:" + server.getLocalPort() : host + ":" + server.getLocalPort());
    } catch (IOException e) {
      throw new ExchangeException("cannot listen on " + host + " for the ring: " + e, e);
    }
  }

  /** {@code host:port} to give the other ranks. */
  String address() {
    return address;
  }

  /** The refusals so far, oldest first. */
  synchronized List<String> refusals() {
    return List.copyOf(refusals);
  }

  /**
   * Accepts until rank {@code left} connects and authenticates, within the spec's timeout.
   *
   * @throws ExchangeException naming the left neighbour, and the refusals, when it does not
   */
  PeerChannel acceptLeft(ExchangeSpec spec, int rank, int left) {
    String self = "rank " + rank;
    long deadline = System.nanoTime() + spec.timeoutMillis() * 1_000_000L;
    while (true) {
      long remainingMillis = (deadline - System.nanoTime()) / 1_000_000L;
      Socket socket;
      try {
        if (remainingMillis < 1) {
          throw new SocketTimeoutException();
        }
        server.setSoTimeout((int) remainingMillis);
        socket = server.accept();
      } catch (SocketTimeoutException e) {
        throw new ExchangeException(self + ": its left neighbour rank " + left
            + " did not connect and authenticate at " + address + " within " + spec.timeoutMillis()
            + " ms" + (refusals().isEmpty() ? "" : "; refused meanwhile: " + refusals()));
      } catch (IOException e) {
        throw new ExchangeException(self + ": accepting at " + address + " failed: " + e, e);
      }
      try {
        PeerChannel channel = PeerChannel.accepted(socket, self, spec);
        Handshake.server(channel, spec, rank, left);
        return channel;
      } catch (ExchangeException e) {
        refuse(e.getMessage());
      } catch (IOException e) {
        PeerChannel.closeQuietly(socket);
        refuse(self + ": cannot set up a connection from "
            + HostPort.format((InetSocketAddress) socket.getRemoteSocketAddress()) + ": " + e);
      }
    }
  }

  private synchronized void refuse(String reason) {
    LOG.log(System.Logger.Level.WARNING, reason);
    refusals.add(reason);
  }

  @Override
  public void close() {
    PeerChannel.closeQuietly(server);
  }
}
